"""What one client has subscribed to, by request id: market data, bars, tick-by-tick, depth.

A `Session` keeps one dict of each; the server's tick and bar loops stream them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ats.sim import depth
from ats.sim.universe import Instrument


@dataclass
class MktSub:
    """reqMktData."""

    inst: Instrument
    last: dict[int, float] = field(default_factory=dict)  #: tick type -> what was sent last


@dataclass
class BarSub:
    """reqRealTimeBars, or reqHistoricalData with keepUpToDate."""

    inst: Instrument
    seconds: int
    what: str
    next_time: float
    keep_up: bool = False  #: historicalDataUpdate rather than realtimeBar
    daily: bool = False
    format_date: int = 1
    tz: str = "UTC"
    rth: bool = False
    forming_sent: float = 0.0  #: sim time of the last forming-bar update (keepUpToDate)


@dataclass
class TickByTickSub:
    """reqTickByTickData."""

    inst: Instrument
    kind: int  #: 1 Last, 2 AllLast, 3 BidAsk, 4 MidPoint
    last: tuple[float, ...] = ()  #: what was sent last, to send changes only


@dataclass
class DepthSub:
    """reqMktDepth."""

    inst: Instrument
    rows: int
    smart: bool
    levels: list[depth.Level] = field(default_factory=list)
