"""Issue 16, a second host: two ATS_HOMEs on one loopback TCP bus with CURVE, each with its
own supervisord. Host A runs the system; host B (`ats-ctl init --join`) runs only ats-agent
and the strategy the manager places there. The strategy on B trades through A's broker; a
kill -9 of B's supervisord shows it LOST on A with one alert while A's own strategy keeps
trading; B's supervisord started again runs it again by itself."""

from __future__ import annotations

import os
import signal
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from systemkit import PROBE, System, free_port, tear_down, wait_for

from ats.cli import homeprocs

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

#: [hosts] lost_seconds of host A: short, so the test waits little for the loss
LOST_SECONDS = 4.0


def fills(system: System, strategy: str) -> list[dict[str, Any]]:
    return [f for f in system.json("fills", "--limit", "0") if f["strategy"] == strategy]


def host_alerts(system: System, what: str) -> list[dict[str, Any]]:
    return [a for a in system.json("alerts", "-n", "500") if what in a.get("message", "")]


@pytest.fixture(scope="module")
def hosts(system_factory: Any) -> Any:
    a: System = system_factory(
        [{"name": "near", "spec": PROBE, "params": {"mode": "churn", "quantity": 2}}],
        {"bus": {"transport": "tcp", "host": "127.0.0.1", "base_port": free_port(),
                 "curve": True},
         "hosts": {"lost_seconds": LOST_SECONDS},
         "alerts": {"summary_time": ""}},
        prepare=lambda s: s.ctl("keys", "generate"))
    b = System(Path(tempfile.mkdtemp(prefix="ats-b-", dir="/tmp")))
    try:
        bus, venue = a.cfg().section("bus"), a.cfg().venue
        joined = b.ctl("init", "--join", f"tcp://127.0.0.1:{bus['base_port']}", "--hub-key",
                       str(a.home / "state" / "keys" / "server.key"), "--host-name", "b",
                       "--gateway", f"127.0.0.1:{venue['port']}")
        assert "ats-ctl keys allow b.key" in joined.stdout
        a.ctl("keys", "allow", str(b.home / "b.key"))
        # B's strategies follow A's simulated clock
        data = tomllib.loads((b.home / "ats.toml").read_text())
        data["sim"] = tomllib.loads((a.home / "ats.toml").read_text())["sim"]
        (b.home / "ats.toml").write_text(tomli_w.dumps(data))
        assert "the agent of host b is up" in b.ctl("up", timeout=120).stdout
        def place() -> bool:
            added = a.ctl("add", PROBE, "--name", "far", "--host", "b", "-p", "mode=churn",
                          "-p", "quantity=1", check=False)
            return added.returncode == 0 or "already registered" in added.stderr

        wait_for(place, 60, "host A's manager to hear B's agent and place a strategy on it")
        a.ctl("start", "far", timeout=60)
        yield a, b
    finally:
        tear_down(b)


def test_a_strategy_on_host_b_trades_through_host_as_broker(hosts: Any) -> None:
    a, b = hosts
    status = wait_for(lambda: (s := a.status())["far"]["state"] == "RUNNING" and s, 60,
                      "far RUNNING on host b")
    assert (status["far"]["host"], status["near"]["host"]) == ("b", "local")
    assert status["far"]["pid"] == b.pid_of("strategy-far")  # B's supervisord runs it
    assert not (a.home / "supervisor.d" / "strategy-far.conf").exists()
    far = wait_for(lambda: len(f := fills(a, "far")) >= 2 and f, 90,
                   "two fills of far in host A's ledger")
    assert all(f["order_ref"].startswith("ats:far:") for f in far)
    assert "refused a CURVE peer" not in a.log("bus") + a.log("manager")
    table = a.ctl("status").stdout.split("\n\n")[0].splitlines()
    header, far_row = table[0].split(), next(r for r in table if r.startswith("far "))
    assert far_row.split()[header.index("HOST")] == "b"


def test_a_killed_host_b_is_lost_with_one_alert_while_host_a_trades_on(hosts: Any) -> None:
    a, b = hosts
    wait_for(lambda: a.status()["far"]["state"] == "RUNNING", 60, "far RUNNING")
    supervisord = int((b.home / "run" / "supervisord.pid").read_text())
    os.kill(supervisord, signal.SIGKILL)
    wait_for(lambda: not homeprocs.find(b.home, b.home / "run"), 30,
             "host B's agent and strategy to stop with their supervisord")
    lost = wait_for(lambda: (s := a.status())["far"]["state"] == "LOST" and s,
                    LOST_SECONDS + 15, "far LOST on host A")
    assert lost["near"]["state"] == "RUNNING"
    assert "LOST" in a.ctl("status").stdout
    before = len(fills(a, "near"))
    wait_for(lambda: len(fills(a, "near")) >= before + 2, 60, "near to trade on")
    alerts = wait_for(lambda: host_alerts(a, "host b LOST"), 30, "the alert of host b LOST")
    assert len(alerts) == 1 and alerts[0]["level"] == "CRITICAL"
    assert "far" in alerts[0]["message"]
    assert not [x for x in a.json("alerts", "-n", "500")
                if x.get("source") == "far" and "UNRESPONSIVE" in x.get("title", "")]
    start = a.ctl("start", "far", check=False)
    assert start.returncode == 27 and "LOST" in start.stderr


def test_host_b_started_again_runs_its_strategy_again_by_itself(hosts: Any) -> None:
    a, b = hosts
    b.ctl("up", timeout=120)
    back = wait_for(lambda: (s := a.status())["far"]["state"] == "RUNNING" and s, 60,
                    "far RUNNING again on host b")
    assert back["far"]["pid"] == b.pid_of("strategy-far")
    assert wait_for(lambda: host_alerts(a, "host b is back"), 30, "the INFO alert")[0][
        "level"] == "INFO"
    assert len(host_alerts(a, "host b LOST")) == 1
