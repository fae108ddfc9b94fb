"""Ticks: quote and trade updates a strategy asks for with a TickSpec, given to `on_tick`.

Live, the host streams them from the venue's market data (reqMktData) and hands a strategy at
most one tick per instrument every `TickSpec.min_interval` seconds, the latest: a fast feed is
coalesced, never queued. In a replay there are no quotes: each bar of a subscribed instrument
becomes one tick at the bar's close (time = the bar's end, bid = ask = last = close, sizes None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ats.sdk.bars import Bar
from ats.sdk.instrument import Instrument


@dataclass(frozen=True, slots=True)
class Tick:
    """The latest quote and trade of one instrument; a field the venue has not sent is None."""

    time: pd.Timestamp  #: UTC, the venue's clock
    instrument: str  #: Instrument.key
    bid: float | None
    ask: float | None
    last: float | None
    bid_size: float | None = None
    ask_size: float | None = None
    last_size: float | None = None

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @classmethod
    def from_bar(cls, bar: Bar, end: pd.Timestamp) -> Tick:
        """The one tick a replay makes of a bar: its close, at its end."""
        return cls(end, bar.instrument, bar.close, bar.close, bar.close)


@dataclass(frozen=True)
class TickSpec:
    """A subscription to ticks of `instrument`, at most one every `min_interval` seconds."""

    instrument: Instrument
    min_interval: float = 0.25

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_interval) and self.min_interval > 0):
            raise ValueError(f"min_interval must be > 0 seconds, got {self.min_interval!r}")

