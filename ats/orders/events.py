"""What the desk and a host publish about orders, for every process listening on the bus.

- `FillEvent` (``fill.<strategy>``): a fill as the desk's ledger booked it, published once its
  journal record is written. A trade (``kind`` "trade", envelope type "fill") or one leg of an
  operator's transfer between books (``kind`` "transfer", envelope type "transfer", with its
  `TransferLeg`). Its body is the ledger's row, the one shape of a fill in every view;
- `OrderUpdate` (``order.<strategy>``, type "order"): a strategy's order changed state, as its
  host saw it.

As in ats.orders.contract: frozen and typed, ``encode()`` gives the msgpack-safe body with
``"v": SCHEMA``, ``decode(d)`` checks every field and raises one ValueError naming the field
(a body without ``"v"`` is read as version 1). The body's other keys are those the web
console's JavaScript and REPL users read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ats.orders.contract import SCHEMA, Reader
from ats.orders.fills import BOT, SLD

#: a FillEvent's kinds
TRADE = "trade"
TRANSFER = "transfer"
#: a transfer leg's sides: out of the source's book, into the destination's
OUT = "OUT"
IN = "IN"
#: envelope types: a trade's fill, a transfer's leg, an order's update
FILL_TYPE = "fill"
TRANSFER_TYPE = "transfer"
ORDER_TYPE = "order"


@dataclass(frozen=True, slots=True)
class TransferLeg:
    """What a transfer's leg adds to its fill: which transfer, who moved what, and why."""

    transfer_id: str
    position_change: float  #: signed: what the transfer moved into this leg's book
    source: str  #: the book it left (``from`` on the wire)
    dest: str  #: the book it entered (``to`` on the wire)
    by: str  #: who moved it: cli:<user>, web:<user>
    reason: str
    forced: bool  #: made into a HALTED strategy with --force


@dataclass(frozen=True, slots=True)
class FillEvent:
    """A fill in one strategy's book, as the desk's ledger booked it."""

    exec_id: str  #: a transfer leg's is ``<transfer key>.in`` / ``.out``
    strategy: str
    symbol: str
    con_id: int
    side: str  #: a trade's BOT or SLD; a transfer leg's IN or OUT
    shares: float  #: >= 0; side gives the sign
    price: float
    commission: float  #: 0.0 while commission_pending
    commission_pending: bool
    realized_pnl: float  #: gross
    order_ref: str  #: "" when the order had none (and for a transfer)
    client_id: int  #: the placing connection's; -1 for a transfer
    perm_id: int
    time: str  #: ISO 8601, UTC
    sec_type: str
    multiplier: float
    transfer: TransferLeg | None = None  #: set for a transfer's leg, None for a trade

    @property
    def kind(self) -> str:
        return TRADE if self.transfer is None else TRANSFER

    @property
    def bus_type(self) -> str:
        """The envelope type it travels under on ``fill.<strategy>``."""
        return FILL_TYPE if self.transfer is None else TRANSFER_TYPE

    @property
    def signed_shares(self) -> float:
        """+ into the book, - out of it."""
        return self.shares if self.side in (BOT, IN) else -self.shares

    def row(self) -> dict[str, Any]:
        """The ledger's plain row (no version): `ats-ctl fills`, the REPL and the web's API."""
        out: dict[str, Any] = {
            "exec_id": self.exec_id, "strategy": self.strategy, "symbol": self.symbol,
            "con_id": self.con_id, "side": self.side, "shares": self.shares,
            "price": self.price, "commission": self.commission,
            "commission_pending": self.commission_pending, "realized_pnl": self.realized_pnl,
            "order_ref": self.order_ref, "client_id": self.client_id, "perm_id": self.perm_id,
            "time": self.time, "sec_type": self.sec_type, "multiplier": self.multiplier,
            "kind": self.kind}
        t = self.transfer
        if t is not None:
            out.update({"transfer_id": t.transfer_id, "position_change": t.position_change,
                        "from": t.source, "to": t.dest, "by": t.by, "reason": t.reason,
                        "forced": t.forced})
        return out

    def encode(self) -> dict[str, Any]:
        return {"v": SCHEMA, **self.row()}

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> FillEvent:
        r = Reader("fill event", d)
        kind = r.str_("kind")
        if kind not in (TRADE, TRANSFER):
            raise r.fail("kind", "trade or transfer", kind)
        side = r.str_("side")
        sides = (BOT, SLD) if kind == TRADE else (IN, OUT)
        if side not in sides:
            raise r.fail("side", " or ".join(sides), side)
        shares = r.float_("shares")
        if shares < 0:
            raise r.fail("shares", ">= 0", shares)
        transfer = None if kind == TRADE else TransferLeg(
            transfer_id=r.str_("transfer_id"), position_change=r.float_("position_change"),
            source=r.str_("from"), dest=r.str_("to"), by=r.str_("by"),
            reason=r.str_("reason"), forced=r.bool_("forced"))
        return cls(exec_id=r.str_("exec_id"), strategy=r.str_("strategy"),
                   symbol=r.str_("symbol"), con_id=r.int_("con_id"), side=side, shares=shares,
                   price=r.float_("price"), commission=r.float_("commission"),
                   commission_pending=r.bool_("commission_pending"),
                   realized_pnl=r.float_("realized_pnl"), order_ref=r.str_("order_ref"),
                   client_id=r.int_("client_id"), perm_id=r.int_("perm_id"),
                   time=r.iso_time("time"), sec_type=r.str_("sec_type"),
                   multiplier=r.float_("multiplier"), transfer=transfer)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A strategy's order changed state, as its host saw it."""

    local_id: str  #: the strategy's handle id: its orderRef once approved
    status: str  #: an ats.sdk.orders.OrderStatus
    filled: float  #: signed
    avg_price: float
    reason: str | None  #: why it was refused or cancelled, when it was
    instrument: str  #: the instrument's key
    quantity: float  #: signed: + buy, - sell
    created: str | None  #: ISO 8601: the venue time the strategy asked at

    def encode(self) -> dict[str, Any]:
        return {"v": SCHEMA, "local_id": self.local_id, "status": self.status,
                "filled": self.filled, "avg_price": self.avg_price, "reason": self.reason,
                "instrument": self.instrument, "quantity": self.quantity,
                "created": self.created}

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> OrderUpdate:
        r = Reader("order update", d)
        return cls(local_id=r.str_("local_id"), status=r.str_("status"),
                   filled=r.float_("filled"), avg_price=r.float_("avg_price"),
                   reason=r.opt_str("reason"), instrument=r.str_("instrument"),
                   quantity=r.float_("quantity"),
                   created=r.opt_iso_time("created"))
