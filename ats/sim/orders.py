"""Orders, executions and the matching rule that fills them against a quote."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ats.orders.fills import split_exec_id
from ats.sim.market import Quote


class OrderStatus:
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    INACTIVE = "Inactive"
    DONE = frozenset({FILLED, CANCELLED, INACTIVE})


ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})
TIFS = frozenset({"DAY", "GTC", "IOC", ""})
ACTIONS = frozenset({"BUY", "SELL"})


@dataclass
class SimOrder:
    client_id: int
    order_id: int
    perm_id: int
    account: str
    con_id: int
    action: str
    total_qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str = ""
    oca_group: str = ""
    outside_rth: bool = False
    parent_id: int = 0
    status: str = OrderStatus.SUBMITTED
    filled: float = 0.0
    cum_value: float = 0.0  #: sum of qty * price
    last_fill_price: float = 0.0
    commission: float = 0.0
    triggered: bool = False
    created: float = 0.0
    completed_time: float = 0.0
    completed_status: str = ""
    oca_type: int = 0  #: IB's ocaType (groups.py): 1 cancel, 2 reduce, 3 reduce without block
    transmit: bool = True  #: False: held until its group's last order says transmit
    held: bool = False  #: placed with transmit=False and not yet transmitted
    expires: float = 0.0  #: a DAY order's end, sim time (0: good till cancelled)

    @property
    def remaining(self) -> float:
        return max(self.total_qty - self.filled, 0.0)

    @property
    def avg_fill_price(self) -> float:
        return self.cum_value / self.filled if self.filled else 0.0

    @property
    def is_done(self) -> bool:
        return self.status in OrderStatus.DONE

    @property
    def sign(self) -> float:
        return 1.0 if self.action == "BUY" else -1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimOrder:
        return cls(**data)


@dataclass
class SimExecution:
    exec_id: str
    perm_id: int
    order_id: int
    client_id: int
    account: str
    con_id: int
    side: str  #: BOT or SLD
    shares: float
    price: float
    time: float
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float
    currency: str
    exchange: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimExecution:
        return cls(**data)


def latest_versions(executions: Iterable[SimExecution]) -> list[SimExecution]:
    """The latest version of each execution, in the order the first versions were made."""
    latest: dict[str, tuple[int, SimExecution]] = {}
    for e in executions:
        prefix, number = split_exec_id(e.exec_id)
        held = latest.get(prefix)
        if held is None or number > held[0]:
            latest[prefix] = (number, e)
    return [e for _, e in latest.values()]


def validate(order: SimOrder) -> str | None:
    """The reason TWS would reject this order, or None."""
    if order.action not in ACTIONS:
        return f"Invalid action: {order.action}"
    if order.order_type not in ORDER_TYPES:
        return f"Unsupported order type: {order.order_type}"
    if order.tif not in TIFS:
        return f"Unsupported time in force: {order.tif}"
    if not order.total_qty > 0:
        return "Order quantity must be positive"
    if order.order_type in ("LMT", "STP LMT") and not (order.lmt_price and order.lmt_price > 0):
        return "Invalid limit price"
    if order.order_type in ("STP", "STP LMT") and not (order.aux_price and order.aux_price > 0):
        return "Invalid stop price"
    return None


def match(order: SimOrder, quote: Quote, liquidity: float) -> tuple[float, float] | None:
    """What the order fills now against `quote`: (quantity, price), or None.
    `liquidity` is what the quoted side still offers this step."""
    if order.remaining <= 0 or liquidity <= 0:
        return None
    buy = order.action == "BUY"
    kind = order.order_type
    if kind in ("STP", "STP LMT") and not order.triggered:
        assert order.aux_price is not None
        ref = quote.last
        if (buy and ref >= order.aux_price) or (not buy and ref <= order.aux_price):
            order.triggered = True
        else:
            return None
    price = quote.ask if buy else quote.bid
    if kind in ("LMT", "STP LMT"):
        assert order.lmt_price is not None
        if (buy and price > order.lmt_price + 1e-9) or (not buy and price < order.lmt_price - 1e-9):
            return None
    qty = min(order.remaining, liquidity)
    return qty, price
