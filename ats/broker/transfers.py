"""A transfer: part of one book's position in a contract moved into another book (issue 17).

Not a trade: nothing happens at the venue, so the account's position is unchanged and the
books still sum to it. It is booked as two legs at one price: the source gives up
``quantity`` at ``price``, the destination takes it at ``price``.

- **Cost basis.** By default ``price`` is the source's average cost at the time of the move:
  the source realizes nothing and the destination's average cost is the source's.
  With an explicit price the source realizes ``(price - its avg cost) * quantity *
  multiplier`` (the sign of ``quantity`` follows the position: + long, - short), and the
  destination's basis is that price. The legs' cash flows cancel, so the account's cash,
  P&L and equity summed over the books do not change.
- **Sign.** ``quantity`` carries the sign of the source's position: moving part of a short
  moves a negative quantity. At most the whole position moves.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ats.errors import Code

#: a transfer's key in a book's history, beside the trades' execId prefixes
KEY_PREFIX = "transfer:"
EPS = 1e-9


class TransferRefused(ValueError):
    """A transfer that may not be made; the message says why in one line, `code` is the
    service's error code for it (ats.errors.Code)."""

    def __init__(self, message: str, code: str = Code.BAD_PARAMS) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str  #: unique; a repeat of an id already booked changes nothing
    time: str  #: ISO, UTC
    con_id: int
    symbol: str
    sec_type: str
    multiplier: float
    quantity: float  #: signed like the source's position: + part of a long, - of a short
    price: float  #: the cost basis it moves at
    source: str
    dest: str
    by: str  #: who: cli:<user>, web:<user>
    reason: str
    forced: bool = False  #: made into a HALTED strategy with --force

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.transfer_id

    def leg(self, strategy: str) -> float:
        """The signed quantity this transfer moves into `strategy`'s book."""
        return -self.quantity if strategy == self.source else self.quantity

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Transfer:
        return cls(
            transfer_id=str(d["transfer_id"]), time=str(d["time"]), con_id=int(d["con_id"]),
            symbol=str(d["symbol"]), sec_type=str(d["sec_type"]),
            multiplier=float(d["multiplier"]), quantity=float(d["quantity"]),
            price=float(d["price"]), source=str(d["source"]), dest=str(d["dest"]),
            by=str(d["by"]), reason=str(d["reason"]), forced=bool(d.get("forced", False)))


def signed_quantity(requested: float, held: float, source: str, symbol: str) -> float:
    """The part of `held` that a request for `requested` moves, with the position's sign; a
    request may give the sign (-50 of a short) or not (50 of a short means -50)."""
    if abs(held) < EPS:
        raise TransferRefused(f"{source} holds no {symbol}")
    if abs(requested) < EPS:
        raise TransferRefused("the quantity to move must not be 0")
    if requested * held < 0 and requested < 0:
        raise TransferRefused(f"{source} is long {held:g} {symbol}: cannot move {requested:g}")
    if abs(requested) > abs(held) + EPS:
        raise TransferRefused(f"{source} holds {held:g} {symbol}: cannot move "
                              f"{abs(requested):g}")
    return abs(requested) if held > 0 else -abs(requested)


class Holdings(Protocol):
    """What a transfer is checked against (ats.broker.ledger.Ledger)."""

    def holdings(self, strategy: str, symbol: str) -> list[tuple[int, str, str, float]]: ...

    def position(self, strategy: str, con_id: int) -> float: ...

    def avg_cost(self, strategy: str, con_id: int) -> float: ...


@dataclass(frozen=True, slots=True)
class Request:
    """What the operator asks: ``ats-ctl assign SYMBOL QTY --to DEST --from SOURCE``."""

    transfer_id: str
    symbol: str
    quantity: float
    source: str
    dest: str
    price: float | None = None  #: None: the source's average cost
    reason: str = ""
    by: str = "unknown"
    force: bool = False
    con_id: int | None = None  #: which contract, where the source holds several of `symbol`


def make_transfer(book: Holdings, req: Request, *, known: Collection[str],
                  halted: Collection[str], time: str) -> Transfer:
    """The transfer `req` asks for, or TransferRefused naming why not. `known`: the names a
    book may have (registered strategies and ``unattributed``; a source that holds the symbol
    needs not be one); `halted`: strategies whose
    trading state is HALTED, which take or give a position only with ``force``."""
    if req.source == req.dest:
        raise TransferRefused(f"source and destination are both {req.source}")
    held = [h for h in book.holdings(req.source, req.symbol)
            if req.con_id is None or h[0] == req.con_id]
    # a book of a strategy since removed from the registry may still give its position away
    for name in (req.source, req.dest) if not held else (req.dest,):
        if name not in known:
            raise TransferRefused(f"unknown strategy {name!r}", Code.UNKNOWN_STRATEGY)
    for name in (req.source, req.dest):
        if name in halted and not req.force:
            raise TransferRefused(f"{name} is HALTED: resume it first, or use --force",
                                  Code.HALTED)
    if req.price is not None and not (math.isfinite(req.price) and req.price > 0):
        raise TransferRefused(f"price must be a positive number, got {req.price:g}")
    if not held:
        raise TransferRefused(f"{req.source} holds no {req.symbol}")
    if len(held) > 1:
        raise TransferRefused(f"{req.source} holds {req.symbol} in several contracts "
                              f"(conIds {', '.join(str(h[0]) for h in held)}): say which "
                              "with --con-id")
    con_id, symbol, sec_type, multiplier = held[0]
    position = book.position(req.source, con_id)
    quantity = signed_quantity(req.quantity, position, req.source, req.symbol)
    price = book.avg_cost(req.source, con_id) if req.price is None else req.price
    return Transfer(transfer_id=req.transfer_id, time=time, con_id=con_id, symbol=symbol,
                    sec_type=sec_type, multiplier=multiplier, quantity=quantity, price=price,
                    source=req.source, dest=req.dest, by=req.by, reason=req.reason,
                    forced=req.force and (req.source in halted or req.dest in halted))
