"""Aggregate 5-second real-time bars into a strategy's bar size.

Intraday bars are clock-aligned buckets, emitted as soon as their last 5-second bar arrives
(when it was missed, as the next bucket begins), so that a bar is in the strategy's window from
its end on, as in a replay (ats/sdk/GUIDE.md, "What a callback sees"). Daily bars are
exchange sessions (XNYS by default): only 5-second bars inside a session's regular hours count,
the bar is stamped with the session date at 00:00 UTC (the stamp of historical daily bars, so a
live bar continues the warm-up history), and it is emitted as soon as the session's last
5-second bar arrives, not at the next day's first one. Overnight and weekend bars, which the
real-time feed delivers when useRTH is off, never leak into daily bars.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ats.sdk.bars import BAR_SIZES, Bar
from ats.sdk.schedule import sessions

SESSION_TZ = "America/New_York"
RT_BAR_NS = 5_000_000_000  #: reqRealTimeBars delivers 5-second bars
_DAY_NS = 86_400_000_000_000


def bucket(t: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """The start of the bar `t` falls in. Daily bars start at the New York session date."""
    if bar_size == "1d":
        local = t.tz_convert(SESSION_TZ)
        return pd.Timestamp(local.date()).tz_localize("UTC")
    return t.floor(BAR_SIZES[bar_size])


class BarAggregator:
    """Builds bars of one size for one instrument from 5-second bars (stamped at their start)."""

    def __init__(self, key: str, bar_size: str, calendar: str = "XNYS") -> None:
        self.key, self.bar_size = key, bar_size
        self._daily = bar_size == "1d"
        self._step = int(BAR_SIZES[bar_size].value)
        self._cal = sessions(calendar) if self._daily else None
        self._cur: list[float] | None = None
        self._start = 0  #: current bucket start (ns); for daily bars the session index
        self._end = 0  #: daily bars: the current session's close (ns)

    def add(self, t: pd.Timestamp, o: float, h: float, lo: float, c: float,
            v: float) -> Bar | None:
        """The bar this 5-second bar completes, if any. A 5-second bar without finite prices
        is dropped, as a missing one would be: one NaN would poison the whole bar."""
        if not math.isfinite(o + h + lo + c):
            return None
        if self._daily:
            return self._add_daily(int(t.value), o, h, lo, c, v)
        start = int(t.value) - int(t.value) % self._step
        done: Bar | None = None
        if self._cur is not None and start > self._start:
            done = self._emit(self._start)
        self._merge(start, o, h, lo, c, v)
        if done is None and int(t.value) + RT_BAR_NS >= start + self._step:
            return self._emit(start)  # its last 5-second bar: complete now
        return done

    def _add_daily(self, t: int, o: float, h: float, lo: float, c: float,
                   v: float) -> Bar | None:
        cal = self._cal
        assert cal is not None
        i = cal.session_index(t)
        if i < 0 or t >= cal.closes[i]:
            # Outside regular hours: closes an unfinished session whose last bar was missed.
            return self._flush() if self._cur is not None and t >= self._end else None
        done: Bar | None = None
        if self._cur is not None and i != self._start:
            done = self._flush()
        self._merge(i, o, h, lo, c, v)
        self._end = int(cal.closes[i])
        if t + RT_BAR_NS >= self._end:
            return self._flush()
        return done

    def _merge(self, start: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        cur = self._cur
        if cur is None:
            self._start, self._cur = start, [o, h, lo, c, max(v, 0.0)]
        else:
            cur[1], cur[2], cur[3] = max(cur[1], h), min(cur[2], lo), c
            cur[4] += max(v, 0.0)

    def _flush(self) -> Bar | None:
        cal = self._cal
        assert cal is not None
        day = int(cal.dates[self._start].value)
        return self._emit(day - day % _DAY_NS)

    def _emit(self, start_ns: int) -> Bar:
        assert self._cur is not None
        bar = Bar(self.key, pd.Timestamp(np.int64(start_ns), tz="UTC"), *self._cur)
        self._cur = None
        return bar


def is_forming(start: pd.Timestamp, bar_size: str, now: pd.Timestamp,
               calendar: str = "XNYS") -> bool:
    """Whether the bar that began at `start` is still open at `now` (so history's last bar
    must be rebuilt live rather than kept). A daily bar is stamped with its session date."""
    if bar_size != "1d":
        return bool(start + BAR_SIZES[bar_size] > now)
    cal = sessions(calendar)
    date = (start.tz_convert(None) if start.tzinfo is not None else start).normalize()
    if date not in cal.dates:
        return False  # not a session date: nothing of it is still forming
    return bool(now.value < cal.closes[cal.dates.get_loc(date)])
