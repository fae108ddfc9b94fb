"""The bus over CURVE TCP on 127.0.0.1: a real hub (ats-bus) and a real ROUTER service, an
allowed client that publishes, subscribes and requests, and an unknown key that gets nothing
from either, while its refusals are alerted on the bus (with no secret key in them)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import zmq
from bus_integration_kit import PROBE, free_port, handshake, wait_ready
from pinned import THREAD_TIMERS

from ats import buskeys, config
from bus import security, topics
from bus.client import Requester
from bus.codec import Envelope, encode
from bus.publisher import Publisher
from bus.security import Curve
from bus.service import REQUEST_TYPE, Service, request_body
from bus.subscriber import SyncSubscriber

# The hub paces its beats and its stop with a timed wait, and the service runs in a thread
# joined with a timeout: both hang under libfaketime.
pytestmark = [pytest.mark.timeout(120), THREAD_TIMERS]

BIN = Path(sys.executable).parent
#: how long a refused client is given to get anything
SILENCE = 1.5
WAIT = 20.0


def _base_port() -> int:
    """A port whose three successors look free too (the bus takes four)."""
    for _ in range(50):
        port = free_port()
        if port + 3 < 65535 and all(_free(port + i) for i in range(1, 4)):
            return port
    raise AssertionError("no four free ports in a row")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class CurveBus:
    """An ATS_HOME with [bus] curve on TCP loopback, its keys, its hub and a manager-like
    ROUTER service in this process (secured as the manager's)."""

    def __init__(self, home: Path) -> None:
        (home / "ats.toml").write_text(tomli_w.dumps(
            {"bus": {"transport": "tcp", "host": "127.0.0.1", "base_port": _base_port(),
                     "curve": True}}))
        self.cfg = config.init_home(home)
        buskeys.generate_home(self.cfg)
        buskeys.generate(self.cfg, "intruder")
        self.eps = self.cfg.endpoints
        self.hub = subprocess.Popen([str(BIN / "ats-bus"), "--home", str(home)],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_ready(self.eps, self.hub)
        buskeys.use(self.cfg, "manager")
        self.loop = asyncio.new_event_loop()
        self.service: Service | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(WAIT), "the service never bound"

    def _serve(self, ready: threading.Event) -> None:
        import zmq.asyncio

        async def main() -> None:
            self.service = Service(zmq.asyncio.Context.instance(), self.eps.manager, "manager")
            self.service.register("add", lambda p: p["a"] + p["b"])
            self.service.bind()
            ready.set()
            await self.service.run()

        self.loop.run_until_complete(main())

    def intruder(self) -> Curve:
        keys = self.cfg.keys_dir
        return Curve(security.load_pair(keys / "intruder.key_secret"),
                     security.load_public(keys / "server.key"))

    def close(self) -> str:
        if self.service is not None:
            self.loop.call_soon_threadsafe(self.service.stop)
        self.thread.join(10)
        self.hub.send_signal(signal.SIGTERM)
        out, _ = self.hub.communicate(timeout=15)
        buskeys.close()
        return out.decode(errors="replace")


@pytest.fixture
def bus() -> Iterator[CurveBus]:
    # a short home: the run folder's paths stay well under the ipc limit
    home = Path(tempfile.mkdtemp(prefix="ats-curve-", dir="/tmp"))
    b = CurveBus(home)
    yield b
    b.close()
    shutil.rmtree(home, ignore_errors=True)


def _silent(sock: zmq.Socket[Any]) -> bool:
    return not sock.poll(int(SILENCE * 1000))


def test_allowed_keys_talk_and_an_unknown_key_gets_nothing_and_is_alerted(
        bus: CurveBus) -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    sub = SyncSubscriber(ctx, bus.eps.subscribe,
                         [PROBE, topics.prefix(topics.ALERT), topics.hb("bus"), "t."])
    pub = Publisher(ctx, bus.eps.publish, "tester")
    try:
        handshake(lambda: pub.publish(PROBE, "probe", {}), sub, "tester")
        # the hub's first beat: its publishers (the refusal alerts' too) are connected
        while (msg := sub.recv(WAIT)) is not None and msg[0] != topics.hb("bus"):
            pass
        assert msg is not None, "no heartbeat from the hub"
        with Requester(ctx, bus.eps.manager, timeout=WAIT) as req:
            assert req.request("add", {"a": 40, "b": 2}) == 42

        intruder = bus.intruder()
        spy = ctx.socket(zmq.SUB)
        security.secure_client(spy, intruder)
        spy.connect(bus.eps.subscribe)
        spy.setsockopt(zmq.SUBSCRIBE, b"")
        asker = ctx.socket(zmq.DEALER)
        security.secure_client(asker, intruder)
        asker.connect(bus.eps.manager)
        asker.send(encode(Envelope(REQUEST_TYPE, "x", 1, 0.0, request_body("x:1", "add",
                                                                           {"a": 1, "b": 1}))))
        for _ in range(5):
            pub.publish("t.secret.", "t", {"n": 1})
        assert _silent(spy), "the intruder's subscriber received bus traffic"
        assert _silent(asker), "the intruder's request was answered"
        spy.close(linger=0)
        asker.close(linger=0)

        alerts: dict[str, dict[str, Any]] = {}
        while len(alerts) < 2:
            msg = sub.recv(WAIT)
            assert msg is not None, f"refusal alerts seen: {sorted(alerts)}"
            topic, env = msg
            if topic.startswith("alert.") and env.body.get("kind") == "curve_refused":
                alerts[topic] = env.body
        assert set(alerts) == {topics.alert("bus"), topics.alert("manager")}
        key = intruder.own.public.decode()
        secrets = [bus.intruder().own.secret.decode()] + [
            security.load_pair(bus.cfg.keys_dir / f"{n}.key_secret").secret.decode()
            for n in ("server", "local")]
        for body in alerts.values():
            assert body["key"] == key and body["level"] == "WARNING"
            assert key in body["message"] and "127.0.0.1" in body["message"]
            assert not any(s in repr(body) for s in secrets)
        assert bus.service is not None and bus.service.stats["requests"] == 1
    finally:
        sub.close()
        pub.close()
        ctx.term()
    assert "refused a CURVE peer at 127.0.0.1" in bus.close()


def test_a_plain_client_gets_nothing_from_a_curve_hub(bus: CurveBus) -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    plain = ctx.socket(zmq.SUB)
    plain.connect(bus.eps.subscribe)
    plain.setsockopt(zmq.SUBSCRIBE, b"")
    pub = Publisher(ctx, bus.eps.publish, "tester")
    try:
        for _ in range(20):
            pub.publish("t.x.", "t", {})
        assert _silent(plain)
    finally:
        plain.close(linger=0)
        pub.close()
        ctx.term()
