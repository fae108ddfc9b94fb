"""What a strategy host and its broker desk say to each other about an order, owned by neither.

- `ApprovalRequest`: the host asks the desk's pre-trade risk to approve an order (``approve``);
- `Decision`: the desk's answer, naming the intent id and orderRef when approved;
- `BookReply`: the strategy's book in the desk's ledger (``book``): positions, cash, the
  executions booked, the intents in flight and the trading state.

(What they publish on the bus, the fill event and the order update, is in ats.orders.events,
read with this module's `Reader`.)

Each class is frozen and typed. ``encode()`` gives the msgpack-safe dict the bus carries, with
``"v": SCHEMA``; ``decode(d)`` checks every field and raises one ValueError naming the field
that is wrong, or the schema version when it is not this one. A dict without ``"v"`` is read as
version 1, whose fields it has: a caller that builds its own dict (a test asking the broker
directly, an older host) still reads and is read, and the wire fields are those they were.

Hand-written dataclasses, not msgspec Structs. ``python -m bench contract`` (three runs on the
loaded 2-core machine) timed an ApprovalRequest's encode + msgpack + decode at 8-10.5 us,
against 0.9-1.4 us for a msgspec Struct through its own msgpack codec, 3.9-4.4 us for the same
Struct as the bus carries it (dict -> msgpack -> ``msgspec.convert``) and 2.0-2.6 us for a
plain dict with no checks. An approval takes about 1.8 ms end to end, so the ~5 us msgspec
would save on the bus's path is under 0.3% of it: not worth a compiled dependency that the
ib_insync strategy venv would need too, nor a second codec beside the bus's. Worth revisiting
if the bus itself moves to typed frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from ats.orders import ref
from ats.orders.intent import BUY, SELL, OrderIntent

#: the version of these messages' fields; bump it when a field changes meaning or goes away
SCHEMA = 1
#: seconds an approved intent not yet seen at the venue is still expected there (the host
#: waits that long before giving it up; the desk lists it in the book's ``in_flight`` so long)
IN_FLIGHT_GRACE = 60.0
#: the trading states a book reply may name (ats.broker.tradingstate.TradingState)
TRADING_STATES = frozenset({"ACTIVE", "REDUCING", "HALTED"})
#: IB's "unset" double (UNSET_DOUBLE = 1.7976931348623157e308): a price so large means none
_UNSET = 1e300


class Reader:
    """Typed reads of one message's fields, each failure naming the message and the field."""

    def __init__(self, what: str, d: Any) -> None:
        if not isinstance(d, Mapping):
            raise ValueError(f"bad {what}: expected a mapping, got {type(d).__name__}")
        self.what, self.d = what, d
        v = d.get("v", 1)
        if v != SCHEMA:
            raise ValueError(f"bad {what}: schema version {v!r}, this side speaks {SCHEMA}")

    def fail(self, name: str, expected: str, value: Any) -> ValueError:
        return ValueError(f"bad {self.what}: {name} must be {expected}, got {value!r}")

    def _get(self, name: str, required: bool) -> Any:
        if required and name not in self.d:
            raise ValueError(f"bad {self.what}: {name} is missing")
        return self.d.get(name)

    def str_(self, name: str, default: str | None = None) -> str:
        v = self._get(name, default is None)
        if v is None and default is not None:
            return default
        if not isinstance(v, str):
            raise self.fail(name, "a string", v)
        return v

    def opt_str(self, name: str) -> str | None:
        v = self.d.get(name)
        if v is not None and not isinstance(v, str):
            raise self.fail(name, "a string or None", v)
        return v

    def iso_time(self, name: str) -> str:
        """An ISO 8601 time, kept as the text it came as."""
        return self._iso_time(name, self.str_(name))

    def opt_iso_time(self, name: str) -> str | None:
        v = self.opt_str(name)
        return None if v is None else self._iso_time(name, v)

    def _iso_time(self, name: str, v: str) -> str:
        try:
            datetime.fromisoformat(v)
        except ValueError:
            raise self.fail(name, "an ISO 8601 time", v) from None
        return v

    def bool_(self, name: str) -> bool:
        v = self._get(name, True)
        if not isinstance(v, bool):
            raise self.fail(name, "true or false", v)
        return v

    def int_(self, name: str) -> int:
        return to_int(self, name, self._get(name, True))

    def opt_int(self, name: str) -> int | None:
        v = self.d.get(name)
        return None if v is None else to_int(self, name, v)

    def float_(self, name: str, default: float | None = None) -> float:
        v = self._get(name, default is None)
        if v is None and default is not None:
            return default
        return to_float(self, name, v)

    def opt_float(self, name: str) -> float | None:
        v = self.d.get(name)
        return None if v is None else to_float(self, name, v)

    def price(self, name: str) -> float | None:
        """A limit or stop price: None, or IB's unset value, means none."""
        v = self.opt_float(name)
        return None if v is None or abs(v) >= _UNSET else v

    def list_(self, name: str) -> list[Any]:
        v = self._get(name, True)
        if not isinstance(v, list | tuple):
            raise self.fail(name, "a list", v)
        return list(v)


def to_int(r: Reader, name: str, v: Any) -> int:
    integral = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    if isinstance(v, bool) or not integral:
        raise r.fail(name, "an integer", v)
    return int(v)


def to_float(r: Reader, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise r.fail(name, "a finite number", v)
    return float(v)


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """An order a strategy asks to place (``approve``), as its host sends it."""

    strategy: str
    con_id: int
    symbol: str
    sec_type: str
    side: str  #: "BUY" or "SELL"
    quantity: float  #: > 0; side gives the sign
    order_type: str
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "DAY"
    multiplier: float = 1.0
    ref_price: float = 0.0  #: the price notional and exposure limits value the order at
    client_id: int | None = None  #: the host's IB clientId: it keys the pacing guard

    def encode(self) -> dict[str, Any]:
        return {"v": SCHEMA, "strategy": self.strategy, "con_id": self.con_id,
                "symbol": self.symbol, "sec_type": self.sec_type, "side": self.side,
                "quantity": self.quantity, "order_type": self.order_type,
                "limit_price": self.limit_price, "stop_price": self.stop_price, "tif": self.tif,
                "multiplier": self.multiplier, "ref_price": self.ref_price,
                "client_id": self.client_id}

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> ApprovalRequest:
        r = Reader("approval request", d)
        strategy = r.str_("strategy")
        if not ref.valid_strategy(strategy):
            raise r.fail("strategy", "a strategy name ([a-z0-9_][a-z0-9_-]*)", strategy)
        side = r.str_("side")
        if side not in (BUY, SELL):
            raise r.fail("side", "BUY or SELL", side)
        quantity = r.float_("quantity")
        if quantity <= 0:
            raise r.fail("quantity", "> 0", quantity)
        multiplier = r.float_("multiplier", 1.0)
        if multiplier <= 0:
            raise r.fail("multiplier", "> 0", multiplier)
        ref_price = r.float_("ref_price", 0.0)
        return cls(strategy=strategy, con_id=r.int_("con_id"), symbol=r.str_("symbol"),
                   sec_type=r.str_("sec_type"), side=side, quantity=quantity,
                   order_type=r.str_("order_type"), limit_price=r.price("limit_price"),
                   stop_price=r.price("stop_price"), tif=r.str_("tif", "DAY"),
                   multiplier=multiplier, ref_price=ref_price, client_id=r.opt_int("client_id"))

    def intent(self, intent_id: int, created: float) -> OrderIntent:
        """The intent this request becomes under ``intent_id``, asked at unix time ``created``."""
        return OrderIntent(
            intent_id=intent_id, strategy=self.strategy, con_id=self.con_id,
            symbol=self.symbol, sec_type=self.sec_type, side=self.side,
            quantity=self.quantity, order_type=self.order_type, limit_price=self.limit_price,
            stop_price=self.stop_price, tif=self.tif, multiplier=self.multiplier,
            ref_price=self.ref_price, created=created)


@dataclass(frozen=True, slots=True)
class Decision:
    """Pre-trade risk's answer. Approved, it names the intent's id and the orderRef the order
    must carry; refused, the limit or state that refused it and why, with the numbers."""

    approved: bool
    code: str  #: "ok", "halted", "reducing", "pacing", "disconnected", "storage" or a limit
    reason: str
    limit: str | None  #: the limit that refused, None when approved
    intent_id: int | None = None  #: set once approved and journalled
    order_ref: str | None = None  #: set once approved and journalled

    def approve(self, intent: OrderIntent) -> Decision:
        """This approval, naming the journalled ``intent``."""
        return replace(self, intent_id=intent.intent_id, order_ref=intent.order_ref)

    def encode(self) -> dict[str, Any]:
        """A refusal carries no ``intent_id`` nor ``order_ref``: nothing was journalled."""
        out = {"v": SCHEMA, "approved": self.approved, "code": self.code,
               "reason": self.reason, "limit": self.limit}
        if self.intent_id is not None:
            out.update(intent_id=self.intent_id, order_ref=self.order_ref)
        return out

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> Decision:
        r = Reader("decision", d)
        approved = r.bool_("approved")
        intent_id, order_ref = r.opt_int("intent_id"), r.opt_str("order_ref")
        if approved and (intent_id is None or order_ref is None):
            raise ValueError("bad decision: approved without "
                             f"{'intent_id' if intent_id is None else 'order_ref'}")
        return cls(approved=approved, code=r.str_("code"), reason=r.str_("reason"),
                   limit=r.opt_str("limit"), intent_id=intent_id, order_ref=order_ref)


class BookedExecution(NamedTuple):
    """A trade's latest version in the desk's ledger: what the host needs to apply a later
    correction of it. On the wire a list ``[exec_id, con_id, shares, price, multiplier,
    commission]``."""

    exec_id: str
    con_id: int
    shares: float  #: signed: + bought, - sold
    price: float
    multiplier: float
    commission: float | None  #: None until its commission report is booked

    def encode(self) -> list[Any]:
        return list(self)


@dataclass(frozen=True, slots=True)
class BookReply:
    """A strategy's book in the desk's ledger (``book``)."""

    positions: tuple[tuple[int, float], ...]  #: (con_id, position), non-zero ones only
    cash: float
    executions: tuple[BookedExecution, ...]
    #: approved but not yet seen at the venue: the host treats them as in flight
    in_flight: tuple[OrderIntent, ...]
    trading_state: str  #: ACTIVE, REDUCING or HALTED: the strategy's effective state

    def encode(self) -> dict[str, Any]:
        return {"v": SCHEMA, "positions": [[c, q] for c, q in self.positions],
                "cash": self.cash, "executions": [e.encode() for e in self.executions],
                "in_flight": [i.to_dict() for i in self.in_flight],
                "trading_state": self.trading_state}

    @classmethod
    def decode(cls, d: Mapping[str, Any]) -> BookReply:
        r = Reader("book reply", d)
        positions = []
        for i, row in enumerate(r.list_("positions")):
            name = f"positions[{i}]"
            if not isinstance(row, list | tuple) or len(row) != 2:
                raise r.fail(name, "[con_id, position]", row)
            positions.append((to_int(r, name, row[0]), to_float(r, name, row[1])))
        executions = []
        for i, row in enumerate(r.list_("executions")):
            name = f"executions[{i}]"
            if not isinstance(row, list | tuple) or len(row) != 6 or not isinstance(row[0], str):
                raise r.fail(name, "[exec_id, con_id, shares, price, multiplier, commission]",
                             row)
            executions.append(BookedExecution(
                row[0], to_int(r, name, row[1]), to_float(r, name, row[2]),
                to_float(r, name, row[3]), to_float(r, name, row[4]),
                None if row[5] is None else to_float(r, name, row[5])))
        in_flight = []
        for i, row in enumerate(r.list_("in_flight")):
            try:
                in_flight.append(OrderIntent.from_dict(row))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise r.fail(f"in_flight[{i}]", f"an order intent ({exc})", row) from exc
        state = r.str_("trading_state")
        if state not in TRADING_STATES:
            raise r.fail("trading_state", "ACTIVE, REDUCING or HALTED", state)
        return cls(positions=tuple(positions), cash=r.float_("cash"),
                   executions=tuple(executions), in_flight=tuple(in_flight),
                   trading_state=state)
