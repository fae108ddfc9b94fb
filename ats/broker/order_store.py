"""The broker's order rows: how the venue's reports update them, and their history on disk.

``state/orders.json`` holds the rows of the orders view keyed ``"<strategy>|<order_ref>"``,
oldest first: every open order and the last KEEP_DONE_ORDERS finished ones. It is rewritten
whole and atomically, at most every WRITE_SECONDS while rows change and once more at a clean
stop, so a restart shows each order with its filled quantity, average price and clientId even
when the venue no longer reports it. A kill -9 loses at most the last WRITE_SECONDS of changes,
which the venue's own reports at the next start mostly restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ats.atomicfile import atomic_write
from ats.ib import status as ib_status

log = logging.getLogger(__name__)

FILE = "orders.json"  #: in the broker's state folder
VERSION = 1
DONE_ORDER_STATUSES = ib_status.DONE | {"Rejected"}  #: Rejected: refused by the broker's risk
#: Finished orders kept in the live orders view, its snapshots and its file.
KEEP_DONE_ORDERS = 2000
WRITE_SECONDS = 0.5

#: one order as `ats-ctl orders` shows it (order_ref, strategy, status, filled, avg_price, ...)
Row = dict[str, Any]


def merge(stored: Mapping[str, Any] | None, venue: Row) -> Row:
    """The venue's report of an order over the row known before: the venue wins, except where
    it says nothing. A completed order (reqCompletedOrders) comes without average price or
    clientId, and an open order's first report at a (re)connect without its fills."""
    if stored is None:
        return venue
    row = {**stored, **venue}
    stored_filled = float(stored.get("filled") or 0.0)
    if venue["filled"] < stored_filled or (
            venue["avg_price"] is None and venue["filled"] == stored_filled):
        row["filled"], row["avg_price"] = stored_filled, stored.get("avg_price")
    for key in ("perm_id", "client_id"):
        if not venue.get(key) and stored.get(key) is not None:
            row[key] = stored[key]
    return row


def select(rows: Mapping[str, Row], strategy: str | None = None,
           include_done: bool = False) -> list[Row]:
    """The rows the `orders` request answers with: one strategy's or all, open or all."""
    return [r for r in rows.values()
            if (not strategy or r.get("strategy") == strategy)
            and (include_done or r.get("status") not in DONE_ORDER_STATUSES)]


def bounded(rows: Mapping[str, Row], keep_done: int = KEEP_DONE_ORDERS) -> dict[str, Row]:
    """Every open row and the last `keep_done` finished ones, in their order."""
    done = [k for k, r in rows.items() if r.get("status") in DONE_ORDER_STATUSES]
    dropped = set(done[:max(0, len(done) - keep_done)])
    return {k: r for k, r in rows.items() if k not in dropped}


def read(path: Path) -> dict[str, Row]:
    """The rows in `path`, oldest first; none when it does not exist. Raises ValueError naming
    the file when it cannot be read. Never writes: the CLI reads with the broker down."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_bytes())
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        rows = data["orders"]
        for key, row in rows.items():
            if not (isinstance(row, dict) and isinstance(row.get("status"), str)
                    and isinstance(row.get("strategy"), str)):
                raise ValueError(f"order {key!r} is not a row")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: cannot read the order history: {exc}") from exc
    return {str(k): v for k, v in rows.items()}


class OrderStore:
    """The broker's order history in `path`. `mark_dirty(key)` after changing a row; `run()`
    writes changed rows at most every `interval` seconds, `save()` at once.

    Each row's JSON is kept until its row changes: a write encodes only the rows changed since
    the last, on the loop that owns them, so thousands of kept rows do not stall it."""

    def __init__(self, path: Path, keep_done: int = KEEP_DONE_ORDERS) -> None:
        self.path = path
        self.keep_done = keep_done
        self.dirty = False
        self.error: str | None = None  #: why the last write failed, until one succeeds
        self._lock = threading.Lock()  #: one write at a time: a loop write may be in flight
        self._encoded: dict[str, str] = {}  #: key -> '"key":{row}' as last written

    def load(self) -> dict[str, Row]:
        """The stored rows. An unreadable file is set aside as ``<name>.corrupt`` (kept for a
        look, never deleted) and the broker starts with no order history."""
        try:
            return bounded(read(self.path), self.keep_done)
        except ValueError as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            try:
                os.replace(self.path, aside)
            except OSError as move_exc:
                log.error("%s; starting with no order history (could not set it aside as %s: "
                          "%s)", exc, aside, move_exc)
            else:
                log.error("%s; starting with no order history, the file kept as %s", exc, aside)
            return {}

    def mark_dirty(self, key: str | None = None) -> None:
        """Row `key` changed (None: any may have)."""
        self.dirty = True
        if key is None:
            self._encoded.clear()
        else:
            self._encoded.pop(key, None)

    def save(self, rows: Mapping[str, Row]) -> bool:
        """Write `rows` now if they changed since the last write; False if the disk refused
        (logged; they stay dirty for the next try)."""
        with self._lock:
            data = self._take(rows)
            return data is None or self._write(data)

    async def run(self, rows: Callable[[], Mapping[str, Row]], stop: asyncio.Event,
                  interval: float = WRITE_SECONDS) -> None:
        """Until `stop`: write changed rows every `interval`, the disk's work off the loop; a
        change made while the last write was on its way is written before it returns."""
        while True:
            stopping = stop.is_set()
            if not stopping:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
            data = self._take(rows())
            if data is not None:
                await asyncio.to_thread(self._write_locked, data)
            if stopping:
                return

    def _take(self, rows: Mapping[str, Row]) -> bytes | None:
        if not self.dirty:
            return None
        self.dirty = False
        kept = bounded(rows, self.keep_done)
        parts = []
        for key, row in kept.items():
            part = self._encoded.get(key)
            if part is None:
                # default=str: a value the IB library gives as Decimal is kept as text rather
                # than ending the writes
                part = json.dumps(key) + ":" + json.dumps(row, separators=(",", ":"),
                                                          default=str)
                self._encoded[key] = part
            parts.append(part)
        if len(self._encoded) > len(kept):
            self._encoded = {k: self._encoded[k] for k in kept}
        return f'{{"version":{VERSION},"orders":{{{",".join(parts)}}}}}'.encode()

    def _write_locked(self, data: bytes) -> bool:
        with self._lock:
            return self._write(data)

    def _write(self, data: bytes) -> bool:
        try:
            atomic_write(self.path, data)
        except OSError as exc:
            self.dirty = True  # the next tick tries again
            if self.error is None:  # once per failing stretch: a full disk fails every tick
                log.error("cannot write the order history %s: %s; retrying every %gs",
                          self.path, exc, WRITE_SECONDS)
            self.error = str(exc)
            return False
        if self.error is not None:
            log.warning("order history %s written again", self.path)
            self.error = None
        return True
