"""The manager's judgement of a strategy host's liveness from heartbeats."""

from __future__ import annotations

import time

from ats.manager import supervisor as sv
from ats.manager.main import STARTUP_GRACE, Manager


def running_for(seconds: float) -> sv.ProcessInfo:
    now = time.time()
    return sv.ProcessInfo("strategy-probe", "RUNNING", 4321, now - seconds, now, 0, "")


def test_a_restarted_manager_waits_a_heartbeat_timeout_before_calling_a_host_unresponsive(
        manager: Manager) -> None:
    entry = manager.registry.add("probe", "strategies.example")
    info = running_for(STARTUP_GRACE + 600)  # a host that outlived the manager's restart
    assert manager._status_of(entry, info)["state"] == "RUNNING"
    manager.started_at -= manager.hb_timeout + 1  # listened a whole timeout, heard nothing
    assert manager._status_of(entry, info)["state"] == "UNRESPONSIVE"
    manager.liveness.beat("probe")
    assert manager._status_of(entry, info)["state"] == "RUNNING"


def test_a_host_that_stops_beating_is_unresponsive_after_the_timeout(manager: Manager) -> None:
    entry = manager.registry.add("probe", "strategies.example")
    info = running_for(600)
    manager.liveness.beat("probe", time.time() - manager.hb_timeout - 1)
    assert manager._status_of(entry, info)["state"] == "UNRESPONSIVE"


def test_a_starting_host_gets_its_grace_before_its_first_heartbeat(manager: Manager) -> None:
    entry = manager.registry.add("probe", "strategies.example")
    manager.started_at -= 3600
    assert manager._status_of(entry, running_for(STARTUP_GRACE - 5))["state"] == "RUNNING"
    assert manager._status_of(entry, running_for(STARTUP_GRACE + 5))["state"] == "UNRESPONSIVE"
