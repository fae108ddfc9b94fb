"""Exchange calendars for the simulator: the sessions, half days and extended hours of XNYS
(stocks, ETFs, indices) and CFE (VIX futures), from exchange_calendars as the hosts use them.

All times are epoch seconds (UTC). A session has regular hours (`open`..`close`, from the
calendar, so holidays, half days and DST are the exchange's) and extended hours
(`early`..`late`) that exist only on trading days:

- XNYS: 04:00 New York on the session's date until 4 hours after the close (20:00, or 17:00
  on a half day);
- CFE: 17:00 Chicago the evening before until 45 minutes after the close (16:00).

The calendars are built for a fixed range (`FIRST`..`LAST`), never from today's date, so a
pinned simulator clock gives the same answers whenever it runs. Outside the range there are
no sessions.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import pandas as pd

FIRST = "2000-01-03"  #: the first session of both calendars (CFE's data starts here)
LAST = "2035-12-31"  #: the last date the calendars are built for


@dataclass(frozen=True)
class Hours:
    """How one calendar's extended hours sit around its regular session."""

    name: str  #: exchange_calendars name
    tz: str  #: the exchange's time zone
    early_days: int  #: extended hours start this many days before the session date ...
    early_time: dt.time  #: ... at this local time
    late_after_close: float  #: extended hours end this many seconds after the close


XNYS = Hours("XNYS", "America/New_York", 0, dt.time(4, 0), 4 * 3600.0)
CFE = Hours("CFE", "America/Chicago", 1, dt.time(17, 0), 45 * 60.0)


@dataclass(frozen=True)
class Session:
    day: dt.date  #: the session's date (daily bars are dated by it)
    open: float
    close: float
    early: float  #: extended hours start
    late: float  #: extended hours end

    def window(self, rth: bool) -> tuple[float, float]:
        """[start, end) of the regular (`rth`) or extended hours."""
        return (self.open, self.close) if rth else (self.early, self.late)


class Calendar:
    """Sessions of one exchange as arrays of epoch seconds, searched with bisection."""

    def __init__(self, hours: Hours) -> None:
        self.hours = hours
        cal = xcals.get_calendar(hours.name, start=FIRST, end=LAST)
        sched = cal.schedule
        self.dates: list[dt.date] = [d.date() for d in pd.DatetimeIndex(sched.index)]
        self.opens = pd.DatetimeIndex(sched["open"]).asi8 // 1_000_000_000
        self.closes = pd.DatetimeIndex(sched["close"]).asi8 // 1_000_000_000
        tz = ZoneInfo(hours.tz)
        self.earlies = np.array([
            dt.datetime.combine(d - dt.timedelta(days=hours.early_days), hours.early_time,
                                tz).timestamp() for d in self.dates], dtype=np.int64)
        self.lates = self.closes + int(hours.late_after_close)
        self._index = {d: i for i, d in enumerate(self.dates)}

    def __len__(self) -> int:
        return len(self.dates)

    def session(self, i: int) -> Session:
        return Session(self.dates[i], float(self.opens[i]), float(self.closes[i]),
                       float(self.earlies[i]), float(self.lates[i]))

    def is_session(self, day: dt.date) -> bool:
        return day in self._index

    def on(self, day: dt.date) -> Session | None:
        """The session dated `day`, if it is a trading day."""
        i = self._index.get(day)
        return None if i is None else self.session(i)

    def last_started(self, ts: float, rth: bool = True) -> Session | None:
        """The last session whose regular (or extended) hours started at or before `ts`."""
        starts = self.opens if rth else self.earlies
        i = int(np.searchsorted(starts, ts, side="right")) - 1
        return self.session(i) if i >= 0 else None

    def overlapping(self, t0: float, t1: float, rth: bool) -> list[Session]:
        """Sessions whose regular (or extended) hours overlap [t0, t1), oldest first."""
        starts, ends = (self.opens, self.closes) if rth else (self.earlies, self.lates)
        lo = int(np.searchsorted(ends, t0, side="right"))
        hi = int(np.searchsorted(starts, t1, side="left"))
        return [self.session(i) for i in range(lo, hi)]

    def sessions_back(self, end: float, n: int, rth: bool) -> float:
        """Start of the period that "N D" ending at `end` covers, as IB counts it: the start
        of the n-th last session that began before `end` (on a Saturday, "1 D" is Friday's
        session). `end` itself when no session began before it."""
        starts = self.opens if rth else self.earlies
        i = int(np.searchsorted(starts, end, side="left")) - max(n, 1)
        if i < 0:
            return float(starts[0]) if len(starts) and starts[0] < end else end
        return float(starts[i])

    def in_hours(self, ts: float, rth: bool) -> bool:
        s = self.last_started(ts, rth)
        if s is None:
            return False
        start, end = s.window(rth)
        return start <= ts < end


@functools.lru_cache(maxsize=4)
def calendar(name: str = "XNYS") -> Calendar:
    return Calendar({"XNYS": XNYS, "CFE": CFE}[name])


def calendar_name(sec_type: str) -> str:
    """The calendar an instrument trades on: CFE for (VIX) futures, XNYS for the rest."""
    return "CFE" if sec_type == "FUT" else "XNYS"


def demo_start(now: dt.datetime, name: str = "XNYS", minutes_in: int = 30) -> dt.datetime:
    """Where a demo clock starts so that the market is open whatever the day: `now` while a
    session is open; otherwise the same time of day (New York) during the most recent session
    when that falls inside it with `minutes_in` to spare before the close, else `minutes_in`
    after that session's open."""
    cal = calendar(name)
    ts = now.timestamp()
    last = cal.last_started(ts)
    if last is None:
        return now
    if ts < last.close:
        return now
    tz = ZoneInfo(cal.hours.tz)
    same = dt.datetime.combine(last.day, now.astimezone(tz).time(), tz).timestamp()
    start = same if last.open <= same < last.close - minutes_in * 60 else \
        min(last.open + minutes_in * 60, last.close - 60)
    return dt.datetime.fromtimestamp(start, dt.UTC)
