"""Aggregate 5-second real-time bars into a strategy's bar size."""

from __future__ import annotations

import pandas as pd

from ats.sdk.bars import BAR_SIZES, Bar

SESSION_TZ = "America/New_York"


def bucket(t: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """The start of the bar `t` falls in. Daily bars start at the New York session date."""
    if bar_size == "1d":
        local = t.tz_convert(SESSION_TZ)
        return pd.Timestamp(local.date()).tz_localize("UTC")
    return t.floor(BAR_SIZES[bar_size])


class BarAggregator:
    """Builds bars of one size for one instrument; a bar is emitted when the next one begins."""

    def __init__(self, key: str, bar_size: str) -> None:
        self.key, self.bar_size = key, bar_size
        self._cur: list[float] | None = None
        self._start: pd.Timestamp | None = None

    def add(self, t: pd.Timestamp, o: float, h: float, lo: float, c: float,
            v: float) -> Bar | None:
        start = bucket(t, self.bar_size)
        done: Bar | None = None
        if self._start is not None and start > self._start and self._cur is not None:
            done = Bar(self.key, self._start, *self._cur)
            self._cur = None
        if self._cur is None:
            self._start, self._cur = start, [o, h, lo, c, v]
        else:
            cur = self._cur
            cur[1], cur[2], cur[3] = max(cur[1], h), min(cur[2], lo), c
            cur[4] += v
        return done
