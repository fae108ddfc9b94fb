"""The manager's judgement of a strategy whose handlers raise: ERRORING and the error fields
of its status, from the host's heartbeat, at explicit times."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ats.errors import Code
from ats.manager import main as manager_main
from ats.manager import supervisor as sv
from ats.manager.main import ERRORING_SECONDS, UP_STATES, Manager, error_fields
from ats.manager.registry import Entry
from bus.errors import RequestError

NOW = 1_800_000_000.0  # the manager's "now", given to _status_of: no clock is read
PID = 4321


@pytest.fixture
def entry(manager: Manager) -> Entry:
    return manager.registry.add("probe", "strategies.example")


def running(pid: int = PID) -> sv.ProcessInfo:
    return sv.ProcessInfo("strategy-probe", "RUNNING", pid, NOW - 600, NOW, 0, "")


def beat(manager: Manager, errors_5m: int = 0, error_at: float | None = None,
         pid: int = PID, trading_state: str = "ACTIVE") -> None:
    """A heartbeat of the host, heard now, as the manager's bus watcher stores it."""
    manager.liveness.beat("probe", NOW)
    last = None if error_at is None else {"where": "handle_bar", "type": "ValueError",
                                           "message": "bar 7 is bad", "time": error_at}
    manager.hb_info["probe"] = {"pid": pid, "venue": "connected", "trading_state": trading_state,
                                "errors_5m": errors_5m, "errors_total": errors_5m,
                                "last_error": last}


def status(manager: Manager, entry: Entry, info: sv.ProcessInfo | None = None) -> dict[str, Any]:
    return manager._status_of(entry, info or running(), now=NOW)


def test_a_running_strategy_whose_handler_just_raised_is_erroring_with_the_exception(
        manager: Manager, entry: Entry) -> None:
    beat(manager, errors_5m=12, error_at=NOW - 2, trading_state="HALTED")
    s = status(manager, entry)
    assert s["state"] == "ERRORING"
    assert s["last_error"] == "ValueError: bar 7 is bad"
    assert s["last_error_where"] == "handle_bar"
    assert (s["errors_5m"], s["last_error_time"], s["trading_state"]) == (12, NOW - 2, "HALTED")


def test_one_error_within_the_last_minute_is_enough(manager: Manager, entry: Entry) -> None:
    beat(manager, errors_5m=1, error_at=NOW - ERRORING_SECONDS)
    assert status(manager, entry)["state"] == "ERRORING"


def test_erroring_clears_a_minute_after_the_last_error_and_the_count_stays_shown(
        manager: Manager, entry: Entry) -> None:
    beat(manager, errors_5m=4, error_at=NOW - ERRORING_SECONDS - 1)
    s = status(manager, entry)
    assert s["state"] == "RUNNING"
    assert s["errors_5m"] == 4 and s["last_error"] == "ValueError: bar 7 is bad"


def test_a_healthy_strategy_reports_no_errors(manager: Manager, entry: Entry) -> None:
    beat(manager)
    s = status(manager, entry)
    assert s["state"] == "RUNNING"
    assert (s["errors_5m"], s["last_error"], s["last_error_time"]) == (0, None, None)


def test_errors_of_the_previous_run_do_not_make_the_restarted_host_erroring(
        manager: Manager, entry: Entry) -> None:
    beat(manager, errors_5m=9, error_at=NOW - 1, pid=1111)  # the old process's last beat
    assert status(manager, entry, running(pid=PID))["state"] == "RUNNING"


def test_a_silent_host_is_unresponsive_rather_than_erroring(manager: Manager,
                                                            entry: Entry) -> None:
    beat(manager, errors_5m=9, error_at=NOW - 1)
    manager.liveness.beat("probe", NOW - manager.hb_timeout - 1)
    assert status(manager, entry)["state"] == "UNRESPONSIVE"


def test_a_stopped_strategy_keeps_the_errors_of_its_last_run_but_is_not_erroring(
        manager: Manager, entry: Entry) -> None:
    beat(manager, errors_5m=3, error_at=NOW - 1)
    stopped = sv.ProcessInfo("strategy-probe", "STOPPED", 0, NOW - 600, NOW, 0, "")
    s = status(manager, entry, stopped)
    assert s["state"] == "STOPPED" and s["last_error"] == "ValueError: bar 7 is bad"


class Supervisor:
    """supervisord's view of one running program at NOW; stops are recorded, not done."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    def all_processes(self) -> list[sv.ProcessInfo]:
        return [running()]

    def stop(self, program: str, wait: bool = True) -> None:
        self.stopped.append(program)


def test_an_erroring_strategy_is_running_for_start_and_stop(
        manager: Manager, entry: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "ERRORING" in UP_STATES
    stub = Supervisor()
    manager.supervisor = stub  # type: ignore[assignment]
    monkeypatch.setattr(manager_main.time, "time", lambda: NOW)  # the manager's clock
    beat(manager, errors_5m=5, error_at=NOW - 1)
    with pytest.raises(RequestError) as refused:
        asyncio.run(manager.m_start({"name": "probe"}))
    assert refused.value.code == Code.ALREADY_RUNNING
    asyncio.run(manager.m_stop({"name": "probe"}))
    assert stub.stopped == ["strategy-probe"]


def test_error_fields_of_a_heartbeat_without_them_are_empty() -> None:
    assert error_fields({"pid": 1, "venue": "connected"}) == {
        "errors_5m": 0, "last_error": None, "last_error_where": None, "last_error_time": None}


def test_an_exception_without_a_message_shows_its_type_alone() -> None:
    fields = error_fields({"errors_5m": 1, "last_error": {
        "where": "advance_clock", "type": "ZeroDivisionError", "message": "", "time": NOW}})
    assert fields["last_error"] == "ZeroDivisionError"
