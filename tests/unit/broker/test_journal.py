"""The broker's one journal format (ats/broker/journal.py): whole JSON lines, a torn tail
skipped, and an fsync that never holds the writers' lock."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

from ats.broker.intents import IntentLog
from ats.broker.journal import Journal


def test_records_come_back_in_order_after_a_reopen(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.jsonl", "test journal")
    assert j.read() == []
    for i in range(3):
        j.append({"n": i}, sync=i == 2)
    j.close()
    assert Journal(tmp_path / "j.jsonl", "test journal").read() == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_a_torn_last_line_is_skipped_and_cut_but_left_alone_read_only(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"n":0}\n{"n":1')
    assert Journal(path, "test journal", read_only=True).read() == [{"n": 0}]
    assert path.read_bytes() == b'{"n":0}\n{"n":1'
    j = Journal(path, "test journal")
    assert j.read() == [{"n": 0}]
    assert path.read_bytes() == b'{"n":0}\n'
    assert "test journal" in caplog.text and "truncated last line" in caplog.text
    j.append({"n": 2}, sync=True)
    assert path.read_bytes() == b'{"n":0}\n{"n":2}\n'


def test_a_torn_line_before_the_end_is_corruption_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"n":0}\n{"n\n{"n":2}\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        Journal(path, "test journal").read()


def test_a_write_that_fails_part_way_leaves_no_part_of_its_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j = Journal(tmp_path / "j.jsonl", "test journal")
    j.read()
    j.append({"n": 0}, sync=True)
    real = Journal._write

    def half_then_full(self: Journal, data: bytes) -> None:
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Journal, "_write", half_then_full)
    with pytest.raises(OSError):
        j.append({"n": 1, "pad": "x" * 100}, sync=True)
    assert (tmp_path / "j.jsonl").read_bytes() == b'{"n":0}\n'


def test_the_intent_logs_fsync_does_not_wait_for_the_lock_approvals_take(
        tmp_path: Path) -> None:
    log = IntentLog(tmp_path / "intents.jsonl")
    done = threading.Event()
    with log._lock:  # an approval in progress
        t = threading.Thread(target=lambda: (log.flush(), done.set()))
        t.start()
        assert done.wait(10), "flush waited for the approvals' lock"
    t.join()
    log.close()
