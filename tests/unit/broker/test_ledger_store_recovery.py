"""LedgerStore against a real ArcticDB (LMDB in tmp_path)."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from broker_testkit import commission, fill
from pinned import THREAD_TIMERS

from ats.broker import ledger_store
from ats.broker.journal import Journal
from ats.broker.ledger import Ledger
from ats.broker.ledger_store import LedgerStore, StorageFull

pytestmark = pytest.mark.timeout(60)


def open_store(tmp_path: Path) -> LedgerStore:
    return LedgerStore(tmp_path / "journal", f"lmdb://{tmp_path}/arctic")


def test_journal_flush_and_load_round_trip(tmp_path: Path) -> None:
    fills = [fill("BOT", 10, 100), fill("SLD", 4, 101), fill("BOT", 1, 99)]
    store = open_store(tmp_path)
    store.record_commission(commission(fills[0], 1.0))  # before its execution
    for f in fills[:2]:
        store.record_execution(f)
    assert store.flush_to_arctic() == 3
    assert store.pending == 0
    store.record_execution(fills[2])
    store.record_commission(commission(fills[1], 0.5))
    store.close(flush=False)  # the last two live only in the journal

    store = open_store(tmp_path)
    assert store.pending == 2
    execs, comms = store.load()
    assert execs == fills
    assert [c.exec_id for c in comms] == [fills[0].exec_id, fills[1].exec_id]
    ledger = Ledger()
    ledger.replay(execs, comms)
    assert ledger.position("alpha", 265598) == 7
    assert ledger.commissions("alpha") == 1.5
    assert list(store.read_fills_df()["exec_id"]) == [f.exec_id for f in fills]
    assert store.flush_to_arctic() == 2
    store.close()
    store = open_store(tmp_path)
    assert store.pending == 0
    assert store.load()[0] == fills
    store.close()


def test_records_already_in_arctic_are_not_flushed_twice(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    f = fill("BOT", 1, 10)
    store.record_execution(f)
    journal = store.journal_path.read_bytes()
    store.flush_to_arctic()
    store.close(flush=False)
    store.journal_path.write_bytes(journal)  # crash before the journal was rewritten
    store = open_store(tmp_path)
    assert store.pending == 0
    assert store.flush_to_arctic() == 0
    assert store.load()[0] == [f]
    store.close()


def test_truncated_last_journal_line_is_ignored(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(tmp_path)
    f = fill("BOT", 1, 10)
    store.record_execution(f)
    store.close(flush=False)
    with store.journal_path.open("ab") as fh:
        fh.write(b'{"seq":2,"k":"x","d":{"exec_id":"0000')
    store = open_store(tmp_path)
    assert "truncated last line" in caplog.text
    g = fill("SLD", 1, 11)
    store.record_execution(g)
    store.close(flush=False)
    store = open_store(tmp_path)
    assert store.load()[0] == [f, g]
    store.close()


def test_disk_full_raises_storage_full_and_leaves_no_partial_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path)
    f = fill("BOT", 1, 10)
    store.record_execution(f)
    before = store.journal_path.read_bytes()
    real_write = Journal._write

    def half_then_full(self: Journal, data: bytes) -> None:
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Journal, "_write", half_then_full)
    with pytest.raises(StorageFull):
        store.record_execution(fill("BOT", 2, 10))
    assert store.journal_path.read_bytes() == before
    assert store.pending == 1
    monkeypatch.undo()
    g = fill("BOT", 3, 10)
    store.record_execution(g)
    store.close(flush=False)
    store = open_store(tmp_path)
    assert store.load()[0] == [f, g]
    store.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes (generous: the machine may be
    loaded); the polling pause is not a wait for the result."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@THREAD_TIMERS
def test_background_thread_flushes_journalled_fills_to_arctic_by_itself(
        tmp_path: Path) -> None:
    store = open_store(tmp_path)
    fills = [fill("BOT", 1, 10), fill("SLD", 1, 11)]
    store.record_execution(fills[0])
    store.record_execution(fills[1], sync=False)
    store.record_commission(commission(fills[0], 0.35))
    assert store.pending == 3  # journalled only
    store.start_background(interval=0.05)
    # nothing here calls flush_to_arctic: only the background thread can empty the journal
    assert wait_until(lambda: store.pending == 0), "the background thread never flushed"
    store.close(flush=False)  # stops the thread; no flush of its own
    reopened = open_store(tmp_path)
    assert reopened.pending == 0  # ArcticDB's watermark covers every journal record
    execs, comms = reopened.load()  # so these come from ArcticDB alone
    assert execs == fills
    assert [(c.exec_id, c.commission) for c in comms] == [(fills[0].exec_id, 0.35)]
    reopened.close(flush=False)


@THREAD_TIMERS
def test_a_failed_background_flush_is_reported_and_the_next_one_writes_the_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path)
    f = fill("BOT", 1, 10)
    store.record_execution(f)
    real_frame = ledger_store._frame
    attempts: list[int] = []
    failures: list[BaseException] = []

    def fail_once(rows: list[dict[str, Any]]) -> Any:  # the first ArcticDB append fails
        attempts.append(len(rows))
        if len(attempts) == 1:
            raise RuntimeError("ArcticDB unavailable")
        return real_frame(rows)

    monkeypatch.setattr(ledger_store, "_frame", fail_once)
    store.start_background(interval=0.05, on_error=failures.append)
    assert wait_until(lambda: store.pending == 0), "the background thread never recovered"
    assert [str(e) for e in failures] == ["ArcticDB unavailable"]
    store.close(flush=False)
    reopened = open_store(tmp_path)
    assert reopened.pending == 0
    assert reopened.load()[0] == [f]
    reopened.close(flush=False)


def test_equity_samples_round_trip_through_arctic(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    ledger = Ledger(starting_cash={"alpha": 100.0})
    ledger.apply_execution(fill("BOT", 1, 10))
    ledger.sample_equity(1_700_000_000.0)
    store.write_equity(ledger.equity_df())
    store.close()
    reopened = open_store(tmp_path)
    assert list(reopened.read_equity_df()["equity"]) == [100.0]
    reopened.close(flush=False)


def test_compaction_keeps_all_rows(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "j", f"lmdb://{tmp_path}/arctic", compact_every=2,
                        rotate_bytes=0)
    fills = [fill("BOT", 1, 10 + i) for i in range(5)]
    for f in fills:
        store.record_execution(f)
        store.flush_to_arctic()
    assert store.load()[0] == fills
    assert store.journal_path.read_bytes() == b""  # rotated after every flush
    store.close()
