"""Order requests, handles (live order state) and fills."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from ats.sdk.instrument import Instrument

OrderType = Literal["MKT", "LMT", "STP", "STP LMT"]
ORDER_TYPES: frozenset[str] = frozenset({"MKT", "LMT", "STP", "STP LMT"})


class OrderStatus:
    PENDING_SUBMIT = "PendingSubmit"  #: sent, no acknowledgement yet
    SUBMITTED = "Submitted"  #: working at the venue
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    UNRESOLVED = "Unresolved"  #: in flight across a restart; never resent automatically

    DONE: frozenset[str] = frozenset({FILLED, CANCELLED, REJECTED})
    ACTIVE: frozenset[str] = frozenset({PENDING_SUBMIT, SUBMITTED, PARTIALLY_FILLED, UNRESOLVED})


@dataclass(frozen=True)
class OrderRequest:
    """What a strategy asks for. quantity is signed: + buy, - sell."""

    instrument: Instrument
    quantity: float
    order_type: str = "MKT"
    limit: float | None = None
    stop: float | None = None
    tif: str = "DAY"

    def __post_init__(self) -> None:
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be one of {sorted(ORDER_TYPES)}")
        if self.quantity == 0 or not math.isfinite(self.quantity):
            raise ValueError(f"quantity must be a non-zero number, got {self.quantity}")
        if self.limit is None and self.stop is None and self.order_type == "MKT":
            return  # a market order without prices: nothing more to check
        for name, price in (("limit", self.limit), ("stop", self.stop)):
            if price is not None and not math.isfinite(price):
                raise ValueError(f"{name} price must be a number, got {price}")
        if "LMT" in self.order_type and self.limit is None:
            raise ValueError(f"{self.order_type} order needs a limit price")
        if "STP" in self.order_type and self.stop is None:
            raise ValueError(f"{self.order_type} order needs a stop price")


@dataclass
class OrderHandle:
    """Live state of one order, updated in place by the context."""

    local_id: str
    request: OrderRequest
    status: str = OrderStatus.PENDING_SUBMIT
    filled: float = 0.0  #: signed filled quantity
    avg_price: float = 0.0
    reason: str | None = None
    created: pd.Timestamp | None = None  #: live: the venue time the strategy asked at

    @property
    def is_done(self) -> bool:
        return self.status in OrderStatus.DONE

    @property
    def remaining(self) -> float:
        return self.request.quantity - self.filled


@dataclass(frozen=True)
class Fill:
    """One execution. quantity is signed: + bought, - sold.

    `correction`: the venue corrected an execution reported before (same order, same trade);
    this fill is the trade's true state and replaces that one, it does not add to it.
    """

    instrument: str  #: Instrument.key
    quantity: float
    price: float
    commission: float
    time: pd.Timestamp
    local_id: str
    correction: bool = False
