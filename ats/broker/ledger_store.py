"""Ledger persistence that keeps the order path off ArcticDB.

- ``record_execution`` / ``record_commission`` / ``record_transfer`` append one JSON line to
  a local journal and fsync it (or defer the fsync to ``flush()`` with ``sync=False``). A
  record is either wholly in the journal or not at all: a failed write is cut back off the
  file, and a full disk raises ``StorageFull``.
- ``flush_to_arctic`` (called periodically, or by the background thread) appends the
  pending records to ArcticDB library ``ledger`` in one batch per symbol (``fills``,
  ``commissions``, ``transfers``), prunes old versions, compacts every ``compact_every``
  flushes, and once the journal exceeds ``rotate_bytes`` rewrites it without the flushed
  records (flushed records left in it are skipped on reopen, by seq).
- Each row carries the journal ``seq``; the last seq stored per symbol is the flush
  watermark, so a crash between the Arctic append and the journal rewrite only leaves
  records that are skipped on reopen.
- ``load`` returns ArcticDB rows + unflushed journal records, deduped by exec_id (a transfer
  by transfer_id), in arrival order, ready to ``Ledger.replay``.

This object is the only writer of its symbols; open one per process.
"""

from __future__ import annotations

import errno
import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arcticdb
import pandas as pd

from ats.broker.journal import Journal
from ats.broker.transfers import Transfer
from ats.orders.fills import CommissionReport, Execution
from ats.storage.arctic import read_retry

log = logging.getLogger(__name__)

LIBRARY = "ledger"  #: the ArcticDB library this store writes
FILLS = "fills"
COMMISSIONS = "commissions"
EQUITY = "equity"
TRANSFERS = "transfers"
JOURNAL_NAME = "ledger.journal"
EXEC = "x"
COMM = "c"
XFER = "t"
_SYMBOLS = {EXEC: FILLS, COMM: COMMISSIONS, XFER: TRANSFERS}
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageFull(OSError):
    """The disk is full: the record was NOT written (the journal is unchanged)."""


class LedgerStore:
    def __init__(
        self,
        journal_dir: Path,
        arctic_uri: str,
        library: str = LIBRARY,
        *,
        arctic: Any = None,
        compact_every: int = 50,
        rotate_bytes: int = 1 << 20,
        read_only: bool = False,
    ) -> None:
        """`read_only`: read what is stored (the broker may be down) and change nothing: no
        folder, library or journal is created, and a torn journal tail is skipped, not cut."""
        self.read_only = read_only
        self.journal_dir = Path(journal_dir)
        if not read_only:
            self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.journal_path = self.journal_dir / JOURNAL_NAME
        self._arctic = arctic if arctic is not None else arcticdb.Arctic(arctic_uri)
        self._lib: Any = (self._arctic.get_library(library, create_if_missing=True) if not read_only
                          else self._arctic.get_library(library)
                          if self._arctic.has_library(library) else None)
        self.compact_every = compact_every
        self.rotate_bytes = rotate_bytes  #: rewrite the journal once it is this big
        self._lock = threading.Lock()  #: guards the journal file and _pending
        self._flush_lock = threading.Lock()  #: one flush at a time
        self._pending: list[dict[str, Any]] = []  #: journal records not yet in ArcticDB
        self._flushes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        marks = {kind: self._last_seq(symbol) for kind, symbol in _SYMBOLS.items()}
        last = max(marks.values())
        self._journal = Journal(self.journal_path, "ledger journal", read_only=read_only)
        for rec in self._journal.read():
            last = max(last, rec["seq"])
            if rec["seq"] > marks[rec["k"]]:
                self._pending.append(rec)
        self._seq = last

    # ---- the fast path -----------------------------------------------------------------

    def record_execution(self, e: Execution, sync: bool = True) -> None:
        self._record(EXEC, e.to_dict(), sync)

    def record_commission(self, c: CommissionReport, sync: bool = True) -> None:
        self._record(COMM, c.to_dict(), sync)

    def record_transfer(self, t: Transfer) -> None:
        """Journal a transfer, fsync'd before it returns (it is booked only after)."""
        self._record(XFER, t.to_dict(), True)

    def flush(self) -> None:
        """fsync records written with ``sync=False`` (without holding the writers' lock)."""
        self._journal.sync()

    @property
    def pending(self) -> int:
        return len(self._pending)

    # ---- ArcticDB ----------------------------------------------------------------------

    def flush_to_arctic(self) -> int:
        """Append pending records to ArcticDB; returns the number of rows written."""
        with self._flush_lock:
            self._journal.sync()
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return 0
            for kind, symbol in _SYMBOLS.items():
                rows = [{"seq": r["seq"], **r["d"]} for r in batch if r["k"] == kind]
                if rows:
                    self._lib.append(symbol, _frame(rows), prune_previous_versions=True)
            self._flushes += 1
            if self.compact_every and self._flushes % self.compact_every == 0:
                self.compact()
            with self._lock:
                del self._pending[: len(batch)]
                if self._journal.size >= self.rotate_bytes:
                    self._journal.rewrite(self._pending)
            return len(batch)

    def compact(self) -> None:
        for symbol in (FILLS, COMMISSIONS, TRANSFERS, EQUITY):
            if self._lib.has_symbol(symbol):
                self._lib.compact_data(symbol, prune_previous_versions=True)

    def write_equity(self, df: pd.DataFrame) -> None:
        """Append equity-curve samples (``Ledger.equity_df()`` rows) to ArcticDB."""
        if len(df):
            self._lib.append(EQUITY, df.reset_index(drop=True), prune_previous_versions=True)

    def read_equity_df(self) -> pd.DataFrame:
        return self._read(EQUITY)

    def load(self) -> tuple[list[Execution | Transfer], list[CommissionReport]]:
        """Everything recorded, deduped by exec_id (transfer_id), in the order it was
        recorded: executions and transfers, then commissions."""
        with self._lock:
            pending = list(self._pending)
        execs: dict[str, tuple[int, Execution | Transfer]] = {}
        comms: dict[str, tuple[int, CommissionReport]] = {}
        for row in _rows(self._read(FILLS)):
            e = Execution.from_dict(row)
            execs.setdefault(e.exec_id, (int(row["seq"]), e))
        for row in _rows(self._read(COMMISSIONS)):
            c = CommissionReport.from_dict(row)
            comms.setdefault(c.exec_id, (int(row["seq"]), c))
        for row in _rows(self._read(TRANSFERS)):
            t = Transfer.from_dict(row)
            execs.setdefault(t.key, (int(row["seq"]), t))
        for rec in pending:
            if rec["k"] == EXEC:
                e = Execution.from_dict(rec["d"])
                execs.setdefault(e.exec_id, (rec["seq"], e))
            elif rec["k"] == XFER:
                t = Transfer.from_dict(rec["d"])
                execs.setdefault(t.key, (rec["seq"], t))
            else:
                c = CommissionReport.from_dict(rec["d"])
                comms.setdefault(c.exec_id, (rec["seq"], c))
        return ([e for _, e in sorted(execs.values(), key=lambda t: t[0])],
                [c for _, c in sorted(comms.values(), key=lambda t: t[0])])

    def read_fills_df(self) -> pd.DataFrame:
        """Executions as stored (ArcticDB + unflushed journal), deduped, time as datetime."""
        execs, _ = self.load()
        df = pd.DataFrame([e.to_dict() for e in execs if isinstance(e, Execution)],
                          columns=list(Execution.__dataclass_fields__))
        df["time"] = pd.to_datetime(df["time"], utc=True)
        return df

    # ---- background flushing -----------------------------------------------------------

    def start_background(self, interval: float = 1.0,
                         on_error: Callable[[BaseException], None] | None = None,
                         may_write: Callable[[], bool] = lambda: True) -> None:
        """Flush to ArcticDB every `interval` seconds while `may_write()` says so (the
        journal keeps the records meanwhile)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                if not may_write():
                    continue
                try:
                    self.flush_to_arctic()
                except Exception as exc:  # keep trying; the journal still holds the records
                    log.exception("ledger flush to ArcticDB failed")
                    if on_error is not None:
                        on_error(exc)

        self._thread = threading.Thread(target=run, name="ledger-flush", daemon=True)
        self._thread.start()

    def close(self, flush: bool = True) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if flush:
            self.flush_to_arctic()
        with self._lock:
            self._journal.close()

    # ---- internals ---------------------------------------------------------------------

    def _record(self, kind: str, payload: dict[str, Any], sync: bool) -> None:
        if self.read_only:
            raise PermissionError("ledger store opened read-only")
        with self._lock:
            rec = {"seq": self._seq + 1, "k": kind, "d": payload}
            try:
                self._journal.append(rec, sync=sync)
            except OSError as exc:
                if exc.errno in _FULL_ERRNOS:
                    raise StorageFull(exc.errno, f"ledger journal: disk full ({exc})") from exc
                raise
            self._seq += 1
            self._pending.append(rec)

    def _last_seq(self, symbol: str) -> int:
        if self._lib is None or not self._lib.has_symbol(symbol):
            return 0
        tail = read_retry(lambda: self._lib.tail(symbol, 1).data, f"ledger {symbol}")
        return int(tail["seq"].iloc[-1]) if len(tail) else 0

    def _read(self, symbol: str) -> pd.DataFrame:
        if self._lib is None or not self._lib.has_symbol(symbol):
            return pd.DataFrame()
        data: pd.DataFrame = read_retry(lambda: self._lib.read(symbol).data, f"ledger {symbol}")
        return data


# ArcticDB's static schema needs every append to carry the same dtypes.
_DTYPES = {
    "seq": "int64", "perm_id": "int64", "order_id": "int64", "client_id": "int64",
    "con_id": "int64", "multiplier": "float64", "shares": "float64", "price": "float64",
    "commission": "float64", "realized_pnl": "float64", "quantity": "float64",
    "forced": "bool",
}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    return df.astype({k: v for k, v in _DTYPES.items() if k in df.columns})


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = df.to_dict("records")
    for r in rows:
        v = r.get("realized_pnl")
        if isinstance(v, float) and math.isnan(v):
            r["realized_pnl"] = None
    return rows
