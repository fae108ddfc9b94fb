"""What `ats-ctl up` waits for before it says "ats is ready", and what it names when not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ats import config
from ats.cli.readiness import assess, ready_line


def process(name: str, state: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    return {"kind": "process", "name": name, "state": state, **extra}


def strategy(name: str, state: str, desired: str = "running") -> dict[str, Any]:
    return {"kind": "strategy", "name": name, "state": state, "desired": desired,
            "enabled": True}


PROCESSES = [process("bus"), process("manager"), process("broker", venue="connected"),
             process("gateway-sim"), process("web"), process("alerts")]


def test_ready_when_processes_run_the_broker_is_connected_and_wanted_strategies_run(
        tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    r = assess(cfg, [*PROCESSES, strategy("a", "RUNNING"), strategy("b", "ERRORING"),
                     strategy("c", "STOPPED", desired="stopped")])
    assert r.ready and (r.running, r.wanted) == (2, 2)
    assert ready_line(cfg, r).startswith(
        "ats is ready: 2 of 2 strategies running, the broker connected to the venue at "
        "127.0.0.1:14002 (sim)")


def test_a_starting_strategy_or_an_unconnected_broker_is_waited_for(tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    r = assess(cfg, [*PROCESSES[:2], process("broker", venue="disconnected"), *PROCESSES[3:],
                     strategy("a", "STARTING")])
    assert not r.ready and not r.failed
    assert r.waiting == ["the broker is not connected to the venue at 127.0.0.1:14002 "
                         "([venue] host and port in ats.toml)",
                         "strategy a STARTING (see ats-ctl logs a)"]


def test_a_fatal_process_or_crash_looping_strategy_fails_at_once_naming_it(
        tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    r = assess(cfg, [*PROCESSES[:3], process("gateway-sim", "FATAL"), *PROCESSES[4:],
                     strategy("a", "CRASH_LOOP")])
    assert r.failed[0].startswith("gateway-sim FATAL ([sim] or [venue] port 14002 in use?")
    assert r.failed[1] == "strategy a CRASH_LOOP (see ats-ctl logs a)"


def test_the_simulator_is_not_required_against_a_real_gateway(tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h", {"venue": {"kind": "ib", "port": 4002}})
    r = assess(cfg, [*PROCESSES[:3], process("gateway-sim", "STOPPED"), *PROCESSES[4:]])
    assert r.ready


def test_the_ready_line_shows_the_web_consoles_address(tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h", {"web": {"port": 18765}})
    r = assess(cfg, PROCESSES)
    assert "web console http://127.0.0.1:18765/;" in ready_line(cfg, r)


def test_a_fatal_web_console_names_its_port(tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    r = assess(cfg, [*PROCESSES[:4], process("web", "FATAL"), PROCESSES[5]])
    assert r.failed == ["web FATAL ([web] port 8765 in use? see ats-ctl logs web)"]


def test_an_alerts_process_that_does_not_run_is_not_ready_naming_its_log(
        tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    r = assess(cfg, [*PROCESSES[:5], process("alerts", "FATAL")])
    assert r.failed == ["alerts FATAL (see ats-ctl logs alerts)"]


def test_the_ready_line_says_the_simulators_clock_started_in_the_last_session(
        tmp_path: Path) -> None:
    import datetime as dt

    cfg = config.init_home(tmp_path / "h")
    r = assess(cfg, PROCESSES)
    sunday = dt.datetime(2026, 11, 22, 7, 5, tzinfo=dt.UTC)
    assert ready_line(cfg, r, sunday).endswith(
        "; the market is closed, so the simulator's clock started in the last session, "
        "Fri 2026-11-20 (see ats-ctl logs gateway-sim)")
    wednesday = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
    assert "market is closed" not in ready_line(cfg, r, wednesday)
    wall = config.init_home(tmp_path / "w", {"sim": {"clock": "wall"}})
    assert "market is closed" not in ready_line(wall, r, sunday)


def test_a_joined_hosts_strategy_is_waited_for_until_its_host_is_heard_or_lost(
        tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "h")
    waiting = assess(cfg, [*PROCESSES, strategy("far", "WAITING_HOST")])
    assert not waiting.ready and not waiting.failed
    assert waiting.waiting == ["strategy far WAITING_HOST (see ats-ctl logs far)"]
    lost = assess(cfg, [*PROCESSES, strategy("near", "RUNNING"), strategy("far", "LOST")])
    assert lost.ready and (lost.running, lost.wanted) == (1, 1)  # alerted, not waited for
