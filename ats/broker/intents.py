"""Write-ahead log of approved order intents, written before the order leaves (fsync'd then
too with [broker] sync_approvals, else by the next group commit: README, "Approvals and the
intent log").

A JSON-lines file of three record kinds:
- ``{"op": "base", "next_id": n}``: written by compaction, keeps ids monotonic;
- ``{"op": "approve", "intent": {...}, "ts": t}``: the intent is PENDING;
- ``{"op": "mark", "id": n, "status": s, "info": {...}, "ts": t}``: a status change.

After a crash every PENDING/SUBMITTED intent is matched to what IB knows (open orders,
completed orders, executions) by orderRef and permId. An intent found nowhere becomes
UNRESOLVED and is never resent automatically: the operator decides.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ats.broker.journal import Journal
from ats.ib.status import Phase, phase
from ats.orders.fills import Execution
from ats.orders.intent import OrderIntent

log = logging.getLogger(__name__)


class IntentStatus(StrEnum):
    PENDING = "PENDING"  #: approved, not yet known to IB
    SUBMITTED = "SUBMITTED"  #: acknowledged: orderId/permId known
    FILLED = "FILLED"  #: completely filled
    CANCELLED = "CANCELLED"  #: cancelled (possibly after partial fills)
    REJECTED = "REJECTED"  #: refused by IB
    UNRESOLVED = "UNRESOLVED"  #: fate unknown after recovery; never resent automatically


OPEN_STATUSES = frozenset({IntentStatus.PENDING, IntentStatus.SUBMITTED})
DONE_STATUSES = frozenset({IntentStatus.FILLED, IntentStatus.CANCELLED, IntentStatus.REJECTED})

#: what an IB status means for an intent (an order not yet at the venue is already submitted)
_INTENT_STATUS = {
    Phase.PENDING: IntentStatus.SUBMITTED, Phase.WORKING: IntentStatus.SUBMITTED,
    Phase.FILLED: IntentStatus.FILLED, Phase.CANCELLED: IntentStatus.CANCELLED,
    Phase.REJECTED: IntentStatus.REJECTED,
}


def intent_status(ib_status: str) -> IntentStatus:
    """An IB order status string as an intent's status (SUBMITTED for one IB does not
    document)."""
    known = phase(ib_status)
    return IntentStatus.SUBMITTED if known is None else _INTENT_STATUS[known]


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """An order as IB reports it (an open or a completed order), IB-library free."""

    order_ref: str
    perm_id: int
    order_id: int
    status: str  #: IB's status string, e.g. "Submitted", "Filled", "Cancelled"
    filled: float = 0.0


@dataclass
class IntentRecord:
    intent: OrderIntent
    status: IntentStatus
    info: dict[str, Any] = field(default_factory=dict)  #: order_id, perm_id, filled, reason...
    updated: float = 0.0

    @property
    def perm_id(self) -> int | None:
        p = self.info.get("perm_id")
        return int(p) if p else None

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent.to_dict(), "status": str(self.status),
                "info": dict(self.info), "updated": self.updated}


@dataclass(frozen=True, slots=True)
class Resolution:
    intent_id: int
    status: IntentStatus
    perm_id: int | None
    filled: float


class IntentLog:
    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        self._records: dict[int, IntentRecord] = {}  #: intent_id -> latest state
        self._next_id = 1
        self._journal = Journal(path, "intent log")
        for rec in self._journal.read():
            self._apply(rec)

    def close(self) -> None:
        self._journal.close()

    def __enter__(self) -> IntentLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing -----------------------------------------------------------------------

    def next_id(self) -> int:
        """A fresh intent id, greater than any id ever approved in this log."""
        with self._lock:
            n = self._next_id
            self._next_id += 1
            return n

    def approve(self, intent: OrderIntent, *, durable: bool = True) -> IntentRecord:
        """Record ``intent`` as PENDING; call before the order is sent. With
        ``durable=False`` the caller fsyncs later with ``flush()`` (group commit)."""
        with self._lock:
            if intent.intent_id in self._records:
                raise ValueError(f"intent {intent.intent_id} already approved")
            now = time.time()
            self._journal.append({"op": "approve", "intent": intent.to_dict(), "ts": now},
                                 sync=durable and self.fsync)
            rec = IntentRecord(intent, IntentStatus.PENDING, {}, now)
            self._records[intent.intent_id] = rec
            self._next_id = max(self._next_id, intent.intent_id + 1)
            return rec

    def flush(self) -> None:
        """fsync the records written with durable=False, without holding the lock approvals
        take."""
        self._journal.sync()

    def ensure_above(self, intent_id: int) -> None:
        """Never hand out ``intent_id`` or below again (ids seen at the venue after a crash
        of the machine lost the log's tail)."""
        with self._lock:
            self._next_id = max(self._next_id, intent_id + 1)

    def mark(self, intent_id: int, status: str, *, durable: bool = True,
             **info: Any) -> IntentRecord:
        """Record a status change. ``durable=False`` skips the fsync: fine for what the venue
        can tell again (order statuses), never for an approval."""
        with self._lock:
            rec = self._records[intent_id]
            now = time.time()
            st = IntentStatus(status)
            self._journal.append({"op": "mark", "id": intent_id, "status": str(st),
                                  "info": info, "ts": now}, sync=durable and self.fsync)
            rec.status, rec.updated = st, now
            rec.info.update(info)
            return rec

    def compact(self, keep_done: bool = False) -> None:
        """Rewrite the log with only live intents (and done ones if ``keep_done``)."""
        with self._lock:
            records: list[dict[str, Any]] = [{"op": "base", "next_id": self._next_id}]
            for rec in self._records.values():
                if not keep_done and rec.status in DONE_STATUSES:
                    continue
                records.append({"op": "approve", "intent": rec.intent.to_dict(),
                                "ts": rec.updated})
                records.append({"op": "mark", "id": rec.intent.intent_id,
                                "status": str(rec.status), "info": rec.info, "ts": rec.updated})
            self._journal.rewrite(records)
            if not keep_done:
                self._records = {
                    k: r for k, r in self._records.items() if r.status not in DONE_STATUSES
                }

    # ---- reading -----------------------------------------------------------------------

    def get(self, intent_id: int) -> IntentRecord | None:
        return self._records.get(intent_id)

    def records(self) -> list[IntentRecord]:
        return sorted(self._records.values(), key=lambda r: r.intent.intent_id)

    def unresolved(self) -> list[IntentRecord]:
        """Intents whose fate must be checked with IB: PENDING or SUBMITTED."""
        return [r for r in self.records() if r.status in OPEN_STATUSES]

    def flagged(self) -> list[IntentRecord]:
        """Intents recovery could not match: they wait for the operator."""
        return [r for r in self.records() if r.status is IntentStatus.UNRESOLVED]

    def resolve(
        self,
        open_orders: Iterable[KnownOrder],
        completed_orders: Iterable[KnownOrder],
        executions: Sequence[Execution],
    ) -> list[Resolution]:
        """Match every PENDING/SUBMITTED intent to IB's view and record the outcome."""
        by_ref: dict[str, KnownOrder] = {}
        by_perm: dict[int, KnownOrder] = {}
        for o in completed_orders:  # open orders override completed ones below
            by_ref[o.order_ref] = o
            if o.perm_id:
                by_perm[o.perm_id] = o
        for o in open_orders:
            by_ref[o.order_ref] = o
            if o.perm_id:
                by_perm[o.perm_id] = o
        fills_ref: dict[str, float] = {}
        fills_perm: dict[int, float] = {}
        perm_of_ref: dict[str, int] = {}
        seen: set[str] = set()
        for e in executions:
            if e.exec_id in seen:
                continue
            seen.add(e.exec_id)
            fills_ref[e.order_ref] = fills_ref.get(e.order_ref, 0.0) + e.shares
            fills_perm[e.perm_id] = fills_perm.get(e.perm_id, 0.0) + e.shares
            perm_of_ref.setdefault(e.order_ref, e.perm_id)

        out = []
        for rec in self.unresolved():
            ref, perm = rec.intent.order_ref, rec.perm_id
            order = by_ref.get(ref) or (by_perm.get(perm) if perm else None)
            filled = fills_ref.get(ref, 0.0) or (fills_perm.get(perm, 0.0) if perm else 0.0)
            if order is not None:
                status = intent_status(order.status)
                perm = order.perm_id or perm
                filled = max(filled, order.filled)
            elif filled > 0:
                done = filled >= rec.intent.quantity - 1e-9
                status = IntentStatus.FILLED if done else IntentStatus.UNRESOLVED
                perm = perm or perm_of_ref.get(ref)
            else:
                status = IntentStatus.UNRESOLVED
            info: dict[str, Any] = {"filled": filled, "resolved": True}
            if perm:
                info["perm_id"] = perm
            if order is not None and order.order_id:
                info["order_id"] = order.order_id
            self.mark(rec.intent.intent_id, status, **info)
            out.append(Resolution(rec.intent.intent_id, status, perm, filled))
        return out

    # ---- internals ---------------------------------------------------------------------

    def _apply(self, rec: dict[str, Any]) -> None:
        op = rec["op"]
        if op == "base":
            self._next_id = max(self._next_id, int(rec["next_id"]))
        elif op == "approve":
            intent = OrderIntent.from_dict(rec["intent"])
            self._records[intent.intent_id] = IntentRecord(
                intent, IntentStatus.PENDING, {}, float(rec.get("ts", 0.0)))
            self._next_id = max(self._next_id, intent.intent_id + 1)
        elif op == "mark":
            r = self._records.get(int(rec["id"]))
            if r is not None:
                r.status = IntentStatus(rec["status"])
                r.info.update(rec.get("info", {}))
                r.updated = float(rec.get("ts", 0.0))
        else:
            raise ValueError(f"unknown intent log record {op!r}")
