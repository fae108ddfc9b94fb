"""`ats-ctl status` lists the system's own processes after the strategies, with the broker's
connection to the venue."""

from __future__ import annotations

from ats.cli.strategies import _venue
from ats.manager import supervisor as sv
from ats.manager.main import PROCESSES, Manager

NOW = 1_800_000_000.0


def test_each_process_is_listed_with_its_state_and_the_broker_with_the_venue(
        manager: Manager) -> None:
    infos = {p: sv.ProcessInfo(p, "RUNNING", 100 + i, NOW - 60, NOW, 0, "")
             for i, p in enumerate(PROCESSES) if p != "gateway-sim"}
    manager.liveness.beat("broker", NOW - 0.5)
    manager.hb_info["broker"] = {"venue": "connected", "venue_since": NOW - 30,
                                 "venue_code": 1102, "disk": "OK"}
    rows = {r["name"]: r for r in manager._process_rows(infos)}
    assert list(rows) == ["bus", "manager", "broker", "gateway-sim", "web", "alerts",
                          "scheduler"]
    assert all(r["kind"] == "process" for r in rows.values())
    assert (rows["broker"]["state"], rows["broker"]["pid"], rows["broker"]["uptime"]) == \
        ("RUNNING", 102, 60.0)
    assert rows["broker"]["last_heartbeat"] == NOW - 0.5
    assert rows["gateway-sim"]["state"] == "UNKNOWN"  # not among supervisord's programs
    assert _venue(rows["broker"], NOW) == "connected 30.0s ago (last 1102)"
    assert rows["broker"]["disk"] == "OK"
