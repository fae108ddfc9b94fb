"""A joined host as the manager sees it through its agent's heartbeats: LOST after
[hosts] lost_seconds of silence, reported once, and back once its agent beats again."""

from __future__ import annotations

from ats.manager.hosts import Change, Hosts
from ats.manager.remote import lost_alert

START = 1_800_000_000.0
LOST_AFTER = 10.0


def hosts() -> Hosts:
    return Hosts("local", LOST_AFTER, started_at=START)


def test_the_local_host_and_no_host_are_not_remote() -> None:
    h = hosts()
    assert not h.is_remote("") and not h.is_remote("local") and h.is_remote("b")
    assert h.name("") == "local" and h.name("b") == "b"


def test_a_host_whose_agent_goes_silent_is_lost_after_lost_seconds_and_reported_once() -> None:
    h = hosts()
    assert h.beat("b", {"programs": []}, START + 1)  # first heard: its sections get synced
    assert not h.beat("b", {"programs": []}, START + 2)  # an ordinary beat
    assert h.changes(["b"], START + 2 + LOST_AFTER) == []  # exactly lost_seconds: not yet
    assert not h.is_lost("b", START + 2 + LOST_AFTER)
    lost_at = START + 2 + LOST_AFTER + 0.5
    assert h.is_lost("b", lost_at)
    assert h.changes(["b"], lost_at) == [Change("b", True, LOST_AFTER + 0.5)]
    assert h.changes(["b"], lost_at + 30) == []  # one alert, however long it stays lost


def test_a_lost_host_whose_agent_beats_again_is_back_once_and_resynced() -> None:
    h = hosts()
    h.beat("b", {}, START)
    h.changes(["b"], START + LOST_AFTER + 1)
    assert h.beat("b", {}, START + 60)  # back: its sections are made the registry's again
    assert h.changes(["b"], START + 60) == [Change("b", False, 0.0)]
    assert h.changes(["b"], START + 61) == []


def test_a_host_never_heard_is_lost_once_the_manager_listened_lost_seconds() -> None:
    h = hosts()
    assert h.changes(["b"], START + LOST_AFTER - 1) == []
    assert not h.known("b")
    assert h.changes(["b"], START + LOST_AFTER + 1) == [Change("b", True, None)]


def test_the_agents_programs_are_the_hosts_view() -> None:
    h = hosts()
    row = {"name": "strategy-far", "state": "RUNNING", "pid": 77, "start": START,
           "now": START + 5, "exitstatus": 0, "description": ""}
    h.beat("b", {"programs": [row]}, START + 5)
    info = h.info("b", "strategy-far")
    assert info is not None and (info.state, info.pid, info.uptime) == ("RUNNING", 77, 5.0)
    assert h.info("b", "strategy-other") is None and h.info("c", "strategy-far") is None


def test_the_lost_alert_is_critical_and_names_the_strategies_and_the_return_is_info() -> None:
    lost = lost_alert(Change("b", True, 12.4), LOST_AFTER, ["far", "wide"])
    assert lost["level"] == "CRITICAL" and lost["host"] == "b"
    assert "host b LOST" in lost["message"] and "12 s" in lost["message"]
    assert "far, wide" in lost["message"]
    never = lost_alert(Change("b", True, None), LOST_AFTER, [])
    assert "never been heard" in never["message"]
    back = lost_alert(Change("b", False, 0.0), LOST_AFTER, ["far"])
    assert back["level"] == "INFO" and "host b is back" in back["message"]
    assert lost["key"] != back["key"]  # a return is not folded into the loss
