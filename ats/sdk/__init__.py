"""The strategy SDK: everything a strategy module imports (`from ats.sdk import ...`)."""

from ats.sdk.bars import BAR_SIZES, Bar, BarSpec, BarWindow
from ats.sdk.context import Context
from ats.sdk.instrument import (
    Future,
    Index,
    Instrument,
    Stock,
    days_to_expiry,
    from_key,
)
from ats.sdk.orders import Fill, OrderHandle, OrderRequest, OrderStatus
from ats.sdk.params import ParamError, Params, param
from ats.sdk.schedule import Schedule
from ats.sdk.strategy import Strategy
from ats.sdk.ticks import Tick, TickSpec
from ats.sdk.weights import Weights

__all__ = [
    "BAR_SIZES",
    "Bar",
    "BarSpec",
    "BarWindow",
    "Context",
    "Fill",
    "Future",
    "Index",
    "Instrument",
    "OrderHandle",
    "OrderRequest",
    "OrderStatus",
    "ParamError",
    "Params",
    "Schedule",
    "Stock",
    "Strategy",
    "Tick",
    "TickSpec",
    "Weights",
    "days_to_expiry",
    "from_key",
    "param",
]
