"""LedgerStore against a real ArcticDB (LMDB in tmp_path)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from broker_testkit import commission, fill

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
    real_write = LedgerStore._write

    def half_then_full(self: LedgerStore, fd: int, data: bytes) -> None:
        real_write(self, fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LedgerStore, "_write", half_then_full)
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


def test_background_flush_and_equity_curve(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.start_background(interval=0.05)
    ledger = Ledger(starting_cash={"alpha": 100.0})
    f = fill("BOT", 1, 10)
    ledger.apply_execution(f)
    store.record_execution(f, sync=False)
    store.flush()
    ledger.sample_equity(1_700_000_000.0)
    store.write_equity(ledger.equity_df())
    store.close()
    assert store.pending == 0
    eq = store.read_equity_df()
    assert list(eq["equity"]) == [100.0]


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
