"""Crash-loop protection of the strategy host (ats/host/crashloop.py and its use in
ats/host/main.py): LIMIT crashes within WINDOW seconds stop the strategy (CRASH_LOOP), each
earlier crash backs off 1, 2, 4 ... s, capped at MAX_BACKOFF, and a healthy run clears the
record. Every time is passed in; no test reads the clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from ats import config as config_mod
from ats.host import crashloop
from ats.host import main as host_main
from ats.host.crashloop import CrashRecord, backoff, record_path

T0 = 1_700_000_000.0  #: an arbitrary unix time; every crash time is T0 + seconds


def record(tmp_path: Path) -> CrashRecord:
    return CrashRecord(record_path(tmp_path, "alpha"))


# -- the record ------------------------------------------------------------------------------


def test_the_readme_numbers_are_the_code_constants() -> None:
    # README: "after 5 crashes in 5 minutes it stays stopped"
    assert crashloop.LIMIT == 5
    assert crashloop.WINDOW == 300.0


def test_record_counts_each_crash_within_the_window(tmp_path: Path) -> None:
    rec = record(tmp_path)
    counts = [rec.record(T0 + 60.0 * i) for i in range(5)]  # 0, 60, ..., 240 s
    assert counts == [1, 2, 3, 4, 5]


def test_a_crash_exactly_window_seconds_old_still_counts(tmp_path: Path) -> None:
    rec = record(tmp_path)
    rec.record(T0)
    assert rec.record(T0 + crashloop.WINDOW) == 2


def test_crashes_older_than_the_window_fall_out_of_the_count(tmp_path: Path) -> None:
    rec = record(tmp_path)
    for t in (0.0, 10.0, 20.0, 30.0):
        rec.record(T0 + t)
    # 301 s after the first crash: it is out, the three others are in
    assert rec.record(T0 + 301.0) == 4
    # long after all of them: only this crash counts
    assert rec.record(T0 + 10_000.0) == 1


def test_old_crashes_are_dropped_from_the_file(tmp_path: Path) -> None:
    rec = record(tmp_path)
    rec.record(T0)
    rec.record(T0 + 400.0)
    assert json.loads(rec.path.read_text()) == [T0 + 400.0]


def test_the_count_survives_a_new_record_object(tmp_path: Path) -> None:
    # each crash is a new process: the count lives in the file, not in the object
    record(tmp_path).record(T0)
    record(tmp_path).record(T0 + 1.0)
    assert record(tmp_path).record(T0 + 2.0) == 3


def test_clear_forgets_every_crash(tmp_path: Path) -> None:
    rec = record(tmp_path)
    for i in range(4):
        rec.record(T0 + i)
    rec.clear()
    assert not rec.path.exists()
    assert rec.record(T0 + 5.0) == 1


def test_clear_without_a_record_is_harmless(tmp_path: Path) -> None:
    rec = record(tmp_path)
    rec.clear()
    assert not rec.path.exists()


@pytest.mark.parametrize("content", [
    "",  # empty file
    '[1700000000.0, 17000',  # torn write
    "not json at all",
    '{"crashes": [1700000000.0]}',  # JSON, but not a list
    '["yesterday", null]',  # a list of things that are not times
], ids=["empty", "torn", "garbage", "not-a-list", "not-numbers"])
def test_a_corrupt_record_counts_as_no_earlier_crash_and_is_rewritten(
        tmp_path: Path, content: str) -> None:
    rec = record(tmp_path)
    rec.path.write_text(content)
    assert rec.record(T0) == 1
    assert json.loads(rec.path.read_text()) == [T0]
    assert rec.record(T0 + 1.0) == 2


def test_backoff_doubles_from_one_second_and_is_capped() -> None:
    assert [backoff(n) for n in range(1, 9)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert crashloop.MAX_BACKOFF == 30.0
    assert backoff(1000) == crashloop.MAX_BACKOFF


# -- the host's exit path (ats.host.main.main) ------------------------------------------------


class FakeClock:
    """Stands in for the `time` module inside ats.host.main: `time()` returns `now`, and
    `sleep()` records the back-off instead of sleeping. `monotonic()` stands still: each
    main() ends the instant it starts."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class CrashingHost:
    def __init__(self, cfg: config_mod.Config, name: str) -> None:
        self.name = name

    async def run(self) -> int:
        raise RuntimeError(f"strategy {self.name} blew up")


@pytest.fixture
def crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[
        Callable[[float], int], FakeClock, config_mod.Config]:
    """crash(t): run the host's main() once at T0 + t with a strategy that raises; return its
    exit code."""
    cfg = config_mod.init_home(tmp_path / "home")
    clock = FakeClock(T0)
    monkeypatch.setattr(host_main, "Host", CrashingHost)
    monkeypatch.setattr(host_main, "time", clock)
    monkeypatch.setattr(host_main, "setup_logging", lambda level: None)

    def run(t: float) -> int:
        clock.now = T0 + t
        with pytest.raises(SystemExit) as exc:
            host_main.main(["alpha", "--home", str(cfg.home)])
        code = exc.value.code
        assert isinstance(code, int)
        return code

    return run, clock, cfg


def test_the_fifth_crash_in_five_minutes_exits_crash_loop_after_backoffs_1_2_4_8(
        crash: tuple[Callable[[float], int], FakeClock, config_mod.Config]) -> None:
    run, clock, _ = crash
    codes = [run(60.0 * i) for i in range(5)]  # crashes at 0, 60, 120, 180 and 240 s
    assert codes == [host_main.EXIT_CRASH] * 4 + [crashloop.CRASH_LOOP_EXIT]
    # a back-off before each of the first four restarts; after the fifth crash only the wait
    # that lets supervisord see the exit as expected
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, crashloop.settle(0.0)]


def test_five_crashes_spread_over_more_than_five_minutes_keep_restarting(
        crash: tuple[Callable[[float], int], FakeClock, config_mod.Config]) -> None:
    run, clock, _ = crash
    codes = [run(80.0 * i) for i in range(5)]  # 0 .. 320 s: the first is out of the window
    assert codes == [host_main.EXIT_CRASH] * 5
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_cleared_record_starts_the_count_again(
        crash: tuple[Callable[[float], int], FakeClock, config_mod.Config]) -> None:
    run, clock, cfg = crash
    for i in range(4):
        run(float(i))
    CrashRecord(record_path(cfg.state_dir, "alpha")).clear()  # `ats-ctl start`, or a healthy run
    assert run(10.0) == host_main.EXIT_CRASH
    assert clock.sleeps[-1] == 1.0


def test_a_host_that_stays_up_healthy_after_seconds_clears_its_record(tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rec = record(tmp_path)
    for i in range(4):
        rec.record(T0 + i)
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        assert rec.path.exists()  # not cleared before the wait is over

    monkeypatch.setattr(host_main, "asyncio", SimpleNamespace(sleep=fake_sleep))
    host = SimpleNamespace(cfg=SimpleNamespace(state_dir=tmp_path), name="alpha")
    asyncio.run(host_main.Host._healthy_after(host))  # type: ignore[arg-type]
    assert waited == [crashloop.HEALTHY_AFTER]
    assert not rec.path.exists()
    assert rec.record(T0 + 100.0) == 1


def test_a_crash_loop_exit_waits_out_supervisords_startsecs() -> None:
    assert crashloop.settle(0.2) > crashloop.STARTSECS - 0.2
    assert crashloop.settle(crashloop.STARTSECS + 0.5) == 0.0
    assert crashloop.settle(30.0) == 0.0
