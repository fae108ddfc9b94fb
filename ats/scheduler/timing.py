"""When a job runs next: "after_close" (the exchange's close, half days included, plus a delay)
or a CRON expression (croniter), on exchange sessions only unless the job runs on any day.

Pure: every function takes the instant to count from; nothing reads the clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from croniter import croniter

from ats.sim.calendar import Calendar, calendar

AFTER_CLOSE = "after_close"
#: CRON candidates looked at before a job that never falls on a session is given up
MAX_CANDIDATES = 5000


class TimingError(ValueError):
    """An --at that is neither after_close nor a valid CRON expression, or a bad time zone."""


@dataclass(frozen=True)
class Timing:
    """How one job's runs are placed in time."""

    at: str  #: AFTER_CLOSE or a CRON expression (5 fields, or 6 with seconds last)
    any_day: bool = False  #: CRON only: also on weekends and holidays
    tz: str = "America/New_York"  #: the CRON expression's time zone
    after_close_minutes: float = 30.0  #: AFTER_CLOSE: this long after the close

    def __post_init__(self) -> None:
        check(self.at, self.tz)

    def next_run(self, after: float, cal: Calendar | None = None) -> float | None:
        """The first run strictly after `after` (epoch seconds), or None when there is none in
        the calendar's range (or in MAX_CANDIDATES CRON times)."""
        cal = cal or calendar("XNYS")
        if self.at == AFTER_CLOSE:
            return _after_close(cal, after, self.after_close_minutes * 60.0)
        return _cron(cal, self.at, after, ZoneInfo(self.tz), self.any_day)


def check(at: str, tz: str = "America/New_York") -> None:
    """Raise TimingError, in one line, when `at` or `tz` cannot be used."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimingError(f"unknown time zone {tz!r}") from exc
    if at == AFTER_CLOSE:
        return
    if not croniter.is_valid(at):
        raise TimingError(f"--at {at!r} is neither {AFTER_CLOSE} nor a CRON expression "
                          "(minute hour day month weekday [second], e.g. '30 17 * * 1-5')")


def _after_close(cal: Calendar, after: float, delay: float) -> float | None:
    runs = cal.closes + int(delay)
    i = int(np.searchsorted(runs, after, side="right"))
    return float(runs[i]) if i < len(runs) else None


def _cron(cal: Calendar, expr: str, after: float, tz: ZoneInfo,
          any_day: bool) -> float | None:
    it = croniter(expr, dt.datetime.fromtimestamp(after, tz))
    for _ in range(MAX_CANDIDATES):
        when = it.get_next(dt.datetime)
        if when.timestamp() <= after:  # croniter may repeat a time across a DST change
            continue
        day = when.astimezone(tz).date()
        if any_day or cal.is_session(day):
            return float(when.timestamp())
        # not a trading day: go on from the start of the next one, not time by time
        i = bisect.bisect_right(cal.dates, day)
        if i >= len(cal.dates):
            return None
        midnight = dt.datetime.combine(cal.dates[i], dt.time(0), tz)
        it = croniter(expr, midnight - dt.timedelta(microseconds=1))
    return None
