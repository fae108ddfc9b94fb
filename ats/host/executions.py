"""The strategy's executions as its book holds them: each trade once, at its latest correction.

IB corrects a trade by sending it again with the same execId prefix (all but the last
dot-separated field) and a higher correction number (the last field), carrying the corrected
price and shares. As in the broker's ledger (ats.broker.ledger), the highest number is the
trade's true state: booking it reverses the earlier version's effect on the book (position,
cash, and the commission it was charged) and applies its own; an earlier or equal number that
arrives late is ignored. A commission counts only for the version it was reported for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from ats.orders.fills import split_exec_id

log = logging.getLogger("ats.host")


@dataclass(frozen=True, slots=True)
class Version:
    """One version of an execution, as it moves the book."""

    exec_id: str
    con_id: int
    key: str | None  #: Instrument.key; None when seeded from the broker and not yet resolved
    quantity: float  #: signed: + bought, - sold
    price: float
    multiplier: float


class Book(Protocol):
    """What the strategy's book offers (ats.host.context.LiveContext)."""

    def apply_fill(self, key: str, signed_qty: float, price: float,
                   multiplier: float) -> None: ...

    def charge(self, commission: float) -> None: ...


class Booking(Enum):
    NEW = "new"  #: the first version of a trade: applied
    CORRECTION = "correction"  #: a later version: the earlier one reversed, this one applied
    DUPLICATE = "duplicate"  #: this execId is in the book already
    STALE = "stale"  #: an earlier (or equal) version than the one in the book: ignored


@dataclass(slots=True)
class _Booked:
    version: Version
    correction: int
    commission: float | None = None  #: charged to the book; None until its report arrives
    corrects: bool = False  #: it replaced an earlier version in the book


class Executions:
    """Books executions into `book`, once per execId, the latest correction winning."""

    def __init__(self, book: Book) -> None:
        self._book = book
        self._seen: set[str] = set()  #: every execId met, every version
        self._current: dict[str, _Booked] = {}  #: execId prefix -> the version in the book

    def seed(self, booked: Iterable[tuple[Version, float | None]]) -> None:
        """Start over from versions the book already holds (the broker's ledger): each with
        the commission charged for it, or None while its report is pending."""
        self._seen.clear()
        self._current.clear()
        for version, commission in booked:
            prefix, correction = split_exec_id(version.exec_id)
            self._seen.add(version.exec_id)
            self._current[prefix] = _Booked(version, correction, commission)

    def knows(self, exec_id: str) -> bool:
        """Met before, or superseded by a version in the book."""
        if exec_id in self._seen:
            return True
        prefix, correction = split_exec_id(exec_id)
        held = self._current.get(prefix)
        return held is not None and held.correction >= correction

    def is_current(self, exec_id: str) -> bool:
        held = self._current.get(split_exec_id(exec_id)[0])
        return held is not None and held.version.exec_id == exec_id

    def is_correction(self, exec_id: str) -> bool:
        held = self._current.get(split_exec_id(exec_id)[0])
        return held is not None and held.version.exec_id == exec_id and held.corrects

    def book(self, version: Version) -> Booking:
        if version.exec_id in self._seen:
            return Booking.DUPLICATE
        self._seen.add(version.exec_id)
        prefix, correction = split_exec_id(version.exec_id)
        old = self._current.get(prefix)
        if old is not None and correction <= old.correction:
            log.info("execution %s ignored: %s is booked", version.exec_id, old.version.exec_id)
            return Booking.STALE
        if old is not None:
            self._reverse(old, version)
        self._apply(version)
        self._current[prefix] = _Booked(version, correction, corrects=old is not None)
        if old is None:
            return Booking.NEW
        log.warning("execution %s corrects %s: %+g @ %g -> %+g @ %g", version.exec_id,
                    old.version.exec_id, old.version.quantity, old.version.price,
                    version.quantity, version.price)
        return Booking.CORRECTION

    def charge(self, exec_id: str, commission: float) -> bool:
        """Charge the commission of the version in the book, once; False (nothing charged)
        for a repeat or for a superseded version."""
        held = self._current.get(split_exec_id(exec_id)[0])
        if held is None or held.version.exec_id != exec_id or held.commission is not None:
            return False
        held.commission = commission
        self._book.charge(commission)
        return True

    def _apply(self, version: Version) -> None:
        assert version.key is not None, "an execution from the venue carries its instrument key"
        self._book.apply_fill(version.key, version.quantity, version.price, version.multiplier)

    def _reverse(self, old: _Booked, new: Version) -> None:
        t = old.version
        # A version seeded from the broker has no key: a correction keeps its contract.
        key = t.key or (new.key if t.con_id == new.con_id else None)
        if key is None:
            log.error("cannot reverse %s (conId %d, not resolved): the book keeps it",
                      t.exec_id, t.con_id)
        else:
            self._book.apply_fill(key, -t.quantity, t.price, t.multiplier)
        if old.commission is not None:
            self._book.charge(-old.commission)


def seeded(rows: Iterable[Any], key_of: Mapping[int, str]) -> list[tuple[Version, float | None]]:
    """The broker's book rows ``[exec_id, con_id, quantity, price, multiplier, commission]``
    (see the broker's ``book``) as versions with their commissions."""
    out: list[tuple[Version, float | None]] = []
    for exec_id, con_id, quantity, price, multiplier, commission in rows:
        version = Version(str(exec_id), int(con_id), key_of.get(int(con_id)), float(quantity),
                          float(price), float(multiplier))
        out.append((version, None if commission is None else float(commission)))
    return out
