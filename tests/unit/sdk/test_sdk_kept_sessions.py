"""Kept sessions (ats.sdk.schedule.keep_sessions_in): the first process of the day has a child
process compute a calendar's sessions and keep them; it and the others read them without
importing exchange_calendars, and get exactly what a computation gives."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ats.sdk import schedule
from ats.sdk.schedule import Sessions, keep_sessions_in, sessions


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "calendars"
    keep_sessions_in(folder)
    yield folder
    keep_sessions_in(None)


def assert_same(a: Sessions, b: Sessions) -> None:
    assert (a.name, a.tz) == (b.name, b.tz)
    assert np.array_equal(a.dates.asi8, b.dates.asi8)
    assert np.array_equal(a.opens, b.opens)
    assert np.array_equal(a.closes, b.closes)


def test_kept_sessions_are_what_a_computation_gives(kept: Path) -> None:
    first = sessions("XNYS")
    [path] = kept.glob("XNYS-*.npz")
    keep_sessions_in(kept)  # forget the in-process copy: the next one comes from the file
    from_file = sessions("XNYS")
    assert from_file is not first
    assert_same(from_file, Sessions.compute("XNYS"))
    assert path.exists()


def test_a_process_that_finds_them_kept_never_imports_exchange_calendars(kept: Path) -> None:
    sessions("XNYS")
    code = ("import sys; from pathlib import Path; from ats.sdk import schedule; "
            f"schedule.keep_sessions_in(Path({str(kept)!r})); s = schedule.sessions('XNYS'); "
            "print(len(s.dates), 'exchange_calendars' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [str(len(sessions("XNYS").dates)), "False"]


def test_an_unreadable_kept_file_is_computed_and_written_again(kept: Path) -> None:
    sessions("XNYS")
    [path] = kept.glob("XNYS-*.npz")
    path.write_bytes(b"PK\x03\x04 torn")
    keep_sessions_in(kept)
    assert_same(sessions("XNYS"), Sessions.compute("XNYS"))
    with np.load(path) as z:
        assert str(z["name"]) == "XNYS"


def test_the_files_of_earlier_days_are_removed(kept: Path) -> None:
    kept.mkdir(parents=True)
    old = kept / "XNYS-4.0.0-2.0.0-20000103.npz"
    old.write_bytes(b"")
    other = kept / "XLON-4.0.0-2.0.0-20000103.npz"
    other.write_bytes(b"")
    later = kept / "XNYS-4.0.0-2.0.0-99991231.npz"  # a later day (a faked clock): kept
    later.write_bytes(b"")
    sessions("XNYS")
    assert not old.exists()
    assert other.exists()
    assert later.exists()
    assert len(list(kept.glob("XNYS-*.npz"))) == 2


def test_a_calendar_whose_name_cannot_name_a_file_is_computed_not_kept(kept: Path) -> None:
    assert sessions("24/7").name == "24/7"
    assert not kept.exists() or not any(kept.iterdir())


def test_a_folder_that_cannot_be_made_leaves_the_sessions_computed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    keep_sessions_in(blocker / "calendars")  # under a file: mkdir fails
    try:
        assert_same(sessions("XNYS"), Sessions.compute("XNYS"))
    finally:
        keep_sessions_in(None)


def test_processes_starting_together_compute_the_sessions_once_in_a_child(kept: Path) -> None:
    code = ("import logging, sys; from pathlib import Path; from ats.sdk import schedule; "
            "logging.basicConfig(level=logging.INFO); "
            f"schedule.keep_sessions_in(Path({str(kept)!r})); s = schedule.sessions('XNYS'); "
            "print(int(s.closes[-1]), 'exchange_calendars' in sys.modules)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    runs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in runs]
    outs = [out.split() for out, _ in runs]
    assert {o[0] for o in outs} == {str(Sessions.compute("XNYS").closes[-1])}
    assert [o[1] for o in outs] == ["False"] * 4
    assert sum("sessions of the day in a child process" in err for _, err in runs) == 1


def test_a_failing_child_leaves_the_sessions_computed_and_kept_here(
        kept: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(schedule, "_CHILD", "import sys; sys.exit('no calendars here')")
    with caplog.at_level(logging.WARNING, logger=schedule.__name__):
        assert_same(sessions("XNYS"), Sessions.compute("XNYS"))
    assert "exit 1: no calendars here" in caplog.text
    assert len(list(kept.glob("XNYS-*.npz"))) == 1
