"""The bar sizes ats knows, in one table: each one's length, IB's name for it and the longest
span IB serves in one historical request of it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class BarSize:
    name: str  #: ats's name: "5s", "1min", ..., "1d"
    length: pd.Timedelta
    ib_setting: str  #: IB's barSizeSetting
    #: IB's table of valid duration/bar size pairs allows 1 Y of daily bars, about a month of
    #: 5 min..1 h bars, and 1-2 days of 1 min bars (1 W is accepted in practice for 1 min);
    #: 5 s bars are limited to 1 h (3600 S)
    request_span: pd.Timedelta

    @property
    def seconds(self) -> float:
        return float(self.length.total_seconds())


SIZES: dict[str, BarSize] = {b.name: b for b in (
    BarSize("5s", pd.Timedelta(seconds=5), "5 secs", pd.Timedelta(hours=1)),
    BarSize("1min", pd.Timedelta(minutes=1), "1 min", pd.Timedelta(days=7)),
    BarSize("5min", pd.Timedelta(minutes=5), "5 mins", pd.Timedelta(days=30)),
    BarSize("15min", pd.Timedelta(minutes=15), "15 mins", pd.Timedelta(days=30)),
    BarSize("1h", pd.Timedelta(hours=1), "1 hour", pd.Timedelta(days=30)),
    BarSize("1d", pd.Timedelta(days=1), "1 day", pd.Timedelta(days=365)),
)}
