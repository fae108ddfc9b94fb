"""Issue 16, the bus over TCP with CURVE: the whole system with [bus] curve = true on loopback
TCP. A strategy trades through it and ats-ctl works over it; a client whose key is not allowed
gets nothing from the hub or the manager, and its refusal is alerted; once allowed it talks."""

from __future__ import annotations

from typing import Any

import pytest
import zmq
from systemkit import PROBE, System, free_port, wait_for

from ats import buskeys
from bus import security
from bus.codec import Envelope, encode
from bus.security import Curve
from bus.service import REQUEST_TYPE, request_body

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

#: how long a refused client is given to get anything
SILENCE = 2.0


def _keys(system: System) -> None:
    system.ctl("keys", "generate")
    buskeys.generate(system.cfg(), "intruder")


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory(
        [{"name": "probe", "spec": PROBE, "params": {"mode": "churn", "quantity": 2}}],
        {"bus": {"transport": "tcp", "host": "127.0.0.1", "base_port": free_port(),
                 "curve": True},
         "alerts": {"summary_time": ""}},
        prepare=_keys)
    wait_for(lambda: s.all_running(["probe"]), 90, "the probe RUNNING")
    return s


def intruder(system: System) -> Curve:
    keys = system.home / "state" / "keys"
    return Curve(security.load_pair(keys / "intruder.key_secret"),
                 security.load_public(keys / "server.key"))


def test_a_strategy_trades_over_the_curve_bus(system: System) -> None:
    assert system.cfg().endpoints.broker.startswith("tcp://127.0.0.1:")

    def probe_fills() -> list[dict[str, Any]] | None:
        fills = [f for f in system.json("fills", "--limit", "0") if f["strategy"] == "probe"]
        return fills if len(fills) >= 2 else None

    fills = wait_for(probe_fills, 90, "two probe fills in the ledger")
    assert all(f["order_ref"].startswith("ats:probe:") for f in fills)
    for program in ("bus", "manager", "broker", "strategy-probe"):
        assert "refused a CURVE peer" not in system.log(program), program


def test_an_unallowed_key_gets_nothing_and_its_refusal_is_alerted(system: System) -> None:
    eps, curve = system.cfg().endpoints, intruder(system)
    ctx: zmq.Context[Any] = zmq.Context()
    spy, asker = ctx.socket(zmq.SUB), ctx.socket(zmq.DEALER)
    try:
        for sock, endpoint in ((spy, eps.subscribe), (asker, eps.manager)):
            sock.setsockopt(zmq.LINGER, 0)
            security.secure_client(sock, curve)
            sock.connect(endpoint)
        spy.setsockopt(zmq.SUBSCRIBE, b"")
        asker.send(encode(Envelope(REQUEST_TYPE, "x", 1, 0.0,
                                   request_body("x:1", "list", {}))))
        # the system is busy (a churning strategy, heartbeats): a subscriber let in would
        # hear something within the window
        assert not spy.poll(int(SILENCE * 1000)), "the intruder heard the bus"
        assert not asker.poll(int(SILENCE * 1000)), "the manager answered the intruder"
    finally:
        spy.close(linger=0)
        asker.close(linger=0)
        ctx.term()
    key = curve.own.public.decode()

    def refusals() -> set[str]:
        return {a["source"] for a in system.json("alerts", "-n", "200")
                if key in a.get("message", "") and a["level"] == "WARNING"}

    assert wait_for(lambda: refusals() >= {"bus", "manager"}, 60,
                    "the refusals by the hub and the manager in the alert log")
    assert f"public key {key} is not allowed" in system.log("manager")
    secret = curve.own.secret.decode()
    assert secret not in (system.home / "log" / "alerts.jsonl").read_text()


def test_an_allowed_key_is_let_in_without_a_restart(system: System) -> None:
    cfg = system.cfg()
    buskeys.allow(cfg, "intruder")  # as `ats-ctl keys allow intruder` (tests/unit/cli)
    ctx: zmq.Context[Any] = zmq.Context()
    spy = ctx.socket(zmq.SUB)
    try:
        spy.setsockopt(zmq.LINGER, 0)
        security.secure_client(spy, intruder(system))
        spy.connect(system.cfg().endpoints.subscribe)
        spy.setsockopt(zmq.SUBSCRIBE, b"hb.")
        assert spy.poll(10_000), "an allowed key heard no heartbeat"
    finally:
        spy.close(linger=0)
        ctx.term()
    buskeys.revoke(cfg, "intruder")
    listed = {k.name: k for k in buskeys.listing(cfg)}
    assert listed["local"].allowed and not listed["intruder"].allowed
