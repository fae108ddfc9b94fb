"""The agent's work on its own supervisord: program sections that autostart while the
operator wants the strategy running, start, stop, remove, and a sync to the registry's view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agentkit import FakeSupervisord, two_homes

from ats import config
from ats.agent.programs import Programs
from ats.host import crashloop
from ats.manager import supervisor as sv


@pytest.fixture
def joined() -> Iterator[tuple[config.Config, FakeSupervisord, Programs]]:
    with two_homes() as (_main, cfg):
        fake = FakeSupervisord(cfg.programs_dir)
        yield cfg, fake, Programs(cfg, fake)  # type: ignore[arg-type]


def section(cfg: config.Config, name: str) -> str:
    return (cfg.programs_dir / f"{sv.program_name(name)}.conf").read_text()


def test_start_writes_an_autostart_section_of_this_home_and_starts_it(joined: tuple[
        config.Config, FakeSupervisord, Programs]) -> None:
    cfg, fake, programs = joined
    record = crashloop.CrashRecord(crashloop.record_path(cfg.state_dir, "far"))
    record.record(1.0)
    rows = programs.start("far")
    assert fake.states == {"strategy-far": "RUNNING"}
    assert [(r["name"], r["state"]) for r in rows] == [("strategy-far", "RUNNING")]
    text = section(cfg, "far")
    assert "autostart=true" in text and f"--home {cfg.home}" in text
    assert record.record(2.0) == 1  # the operator's start forgot the crashes before it


def test_stop_stops_it_and_keeps_it_from_autostarting(joined: tuple[
        config.Config, FakeSupervisord, Programs]) -> None:
    cfg, fake, programs = joined
    programs.start("far")
    programs.stop("far")
    assert fake.states == {"strategy-far": "STOPPED"}
    assert "autostart=false" in section(cfg, "far")
    fake.restart()
    assert fake.states == {"strategy-far": "STOPPED"}


def test_a_restarted_supervisord_starts_what_the_operator_wants_running(joined: tuple[
        config.Config, FakeSupervisord, Programs]) -> None:
    _cfg, fake, programs = joined
    programs.sync({"far": True, "idle": False})
    assert fake.states == {"strategy-far": "RUNNING", "strategy-idle": "STOPPED"}
    fake.restart()
    assert fake.states == {"strategy-far": "RUNNING", "strategy-idle": "STOPPED"}


def test_sync_drops_what_is_not_placed_here_and_stops_what_was_stopped_meanwhile(joined: tuple[
        config.Config, FakeSupervisord, Programs]) -> None:
    cfg, fake, programs = joined
    programs.sync({"far": True, "gone": True})
    # while this host was out of reach, "gone" was removed and "far" stopped by the operator
    rows = programs.sync({"far": False})
    assert fake.states == {"strategy-far": "STOPPED"}
    assert sv.strategy_sections(cfg.programs_dir) == {"far"}
    assert [r["name"] for r in rows] == ["strategy-far"]


def test_remove_stops_it_and_drops_its_section_and_a_stop_of_an_unknown_one_is_quiet(
        joined: tuple[config.Config, FakeSupervisord, Programs]) -> None:
    cfg, fake, programs = joined
    programs.start("far")
    assert programs.remove("far") == []
    assert fake.states == {} and sv.strategy_sections(cfg.programs_dir) == set()
    assert programs.remove("never") == []
    programs.stop("never")  # no program of that name here: nothing to stop, nothing written
    assert sv.strategy_sections(cfg.programs_dir) == set()
