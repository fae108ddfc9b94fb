"""Calendar-aware schedules: every N, at the open, before the close, daily, weekly, month end.

Each rule knows its firing times from the exchange calendar (exchange_calendars, never
hand-written holidays). `advance(now)` fires every rule whose latest firing time at or before
`now` has not fired yet: a rule fires once per due time, and after a gap (a replay that jumps a
day per bar) it catches up with at most one firing, the most recent.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.metadata
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from pathlib import Path

import numpy as np
import pandas as pd

Callback = Callable[[], None]
_NS_PER_MIN = 60_000_000_000
_NS_PER_S = 1_000_000_000
_log = logging.getLogger(__name__)


#: where computed sessions are kept for the other processes of the day (see keep_sessions_in)
_kept_in: Path | None = None
_KEEPABLE = re.compile(r"[A-Za-z0-9_]+")  #: no "-": it separates the file name's parts


def keep_sessions_in(folder: Path | None) -> None:
    """Keep each calendar's sessions in ``folder`` once computed, and take them from there
    (None: every process computes its own).

    exchange_calendars costs a process about 7 MB and half a second to import, and every
    strategy host needs the same sessions: the first process of the day has them computed
    under a lock, by a child process so that it does not keep exchange_calendars either, and
    the others read the arrays. A kept file is named for the calendar, the library versions
    and the day, which is all exchange_calendars' default bounds (20 years back, one year on,
    from the day it is imported) depend on: it holds what a computation would."""
    global _kept_in
    _kept_in = folder
    sessions.cache_clear()


@functools.lru_cache(maxsize=8)
def sessions(calendar: str) -> Sessions:
    if _kept_in is None or not _KEEPABLE.fullmatch(calendar):
        return Sessions.compute(calendar)
    return _kept(_kept_in, calendar)


class Sessions:
    """Session dates, opens and closes of one calendar as int64 ns arrays (UTC)."""

    def __init__(self, name: str, tz: str, dates: pd.DatetimeIndex, opens: np.ndarray,
                 closes: np.ndarray) -> None:
        self.name = name  #: the calendar's own name (an alias given to `sessions` resolved)
        self.tz = tz
        self.dates = dates  #: session labels, naive dates
        self.opens = opens
        self.closes = closes

    @classmethod
    def compute(cls, calendar: str) -> Sessions:
        import exchange_calendars as xcals  # only where the sessions are not kept

        cal = xcals.get_calendar(calendar)
        sched = cal.schedule
        return cls(str(cal.name), str(cal.tz), pd.DatetimeIndex(sched.index),
                   pd.DatetimeIndex(sched["open"]).asi8, pd.DatetimeIndex(sched["close"]).asi8)

    def session_index(self, t: int) -> int:
        """Index of the last session that opened at or before t (-1 if none)."""
        return int(np.searchsorted(self.opens, t, side="right")) - 1

    def is_open(self, t: int) -> bool:
        i = self.session_index(t)
        return i >= 0 and t <= self.closes[i]

    def in_hours(self, starts: np.ndarray) -> np.ndarray:
        """Mask of bar start times (ns) inside a regular session: open <= start < close."""
        i = np.searchsorted(self.opens, starts, side="right") - 1
        ok = i >= 0
        out: np.ndarray = ok & (starts < self.closes[np.where(ok, i, 0)])
        return out

    def local_times(self, at: time) -> np.ndarray:
        """`at` in the calendar's time zone on every session date, as UTC ns."""
        local = (self.dates + pd.Timedelta(hours=at.hour, minutes=at.minute, seconds=at.second))
        out: np.ndarray = pd.DatetimeIndex(local.tz_localize(self.tz)).tz_convert("UTC").asi8
        return out

    def last_of_month(self) -> np.ndarray:
        """Boolean mask: session is the last one of its month."""
        period = self.dates.year * 12 + self.dates.month
        out = np.zeros(len(period), dtype=bool)
        out[:-1] = period[1:] != period[:-1]
        out[-1] = True
        return out

    def first_of_week(self, weekday: int) -> np.ndarray:
        """Boolean mask: first session of its week on or after `weekday` (0 = Monday)."""
        iso = self.dates.isocalendar()
        week = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype(np.int64)
        wd = self.dates.weekday.to_numpy()
        out = np.zeros(len(week), dtype=bool)
        seen: set[int] = set()
        for i in range(len(week)):
            if wd[i] >= weekday and week[i] not in seen:
                seen.add(int(week[i]))
                out[i] = True
        return out


def _kept(folder: Path, calendar: str) -> Sessions:
    found = _read_kept(_kept_path(folder, calendar))
    if found is not None:
        return found
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(folder / f"{calendar}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # written by another process while this one waited, else by a child of this one
            found = _read_kept(_kept_path(folder, calendar)) or _kept_by_child(folder, calendar)
            return found if found is not None else _compute_and_keep(folder, calendar)
    except OSError as exc:
        _log.warning("cannot keep sessions in %s (%s): computing them", folder, exc)
        return Sessions.compute(calendar)


def _kept_path(folder: Path, calendar: str, day: pd.Timestamp | None = None) -> Path:
    """The file of ``calendar``'s sessions computed on ``day`` (default: today)."""
    day = pd.Timestamp.now().floor("D") if day is None else day
    versions = f"{importlib.metadata.version('exchange_calendars')}-{pd.__version__}"
    return folder / f"{calendar}-{versions}-{day:%Y%m%d}.npz"


def _compute_and_keep(folder: Path, calendar: str) -> Sessions:
    day = pd.Timestamp.now().floor("D")
    computed = Sessions.compute(calendar)
    if _bounds_from(day):
        _write_kept(_kept_path(folder, calendar, day), calendar, computed)
    return computed


#: the child of ``_kept_by_child``: argv is the folder and the calendar
_CHILD = ("import sys; from pathlib import Path; from ats.sdk import schedule; "
          "schedule._compute_and_keep(Path(sys.argv[1]), sys.argv[2])")
CHILD_TIMEOUT = 30.0  #: seconds (it takes about one); past it this process computes them


def _kept_by_child(folder: Path, calendar: str) -> Sessions | None:
    """The sessions of today a child process computed and kept in ``folder``; None (with a
    warning) when it failed, or when midnight passed meanwhile."""
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(folder), calendar],
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _log.warning("computing the %s sessions in a child process failed (%s): computing them "
                     "here", calendar, exc)
        return None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        _log.warning("computing the %s sessions in a child process failed (exit %d: %s): "
                     "computing them here", calendar, proc.returncode, last)
        return None
    path = _kept_path(folder, calendar)
    found = _read_kept(path)
    if found is not None:
        _log.info("computed the %s sessions of the day in a child process, kept in %s",
                  calendar, path)
    return found


def _bounds_from(day: pd.Timestamp) -> bool:
    """Whether this process's exchange_calendars took its default bounds from ``day`` (not
    from the day before, when it was imported before midnight)."""
    import exchange_calendars.exchange_calendar as xc

    start = getattr(xc, "GLOBAL_DEFAULT_START", None)
    return bool(start == day - pd.DateOffset(years=20))


def _read_kept(path: Path) -> Sessions | None:
    try:
        with np.load(path, allow_pickle=False) as z:  # arrays only: never pickle
            return Sessions(str(z["name"]), str(z["tz"]), pd.DatetimeIndex(z["dates"]),
                            z["opens"], z["closes"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        if path.exists():
            _log.warning("kept sessions %s unreadable (%s): computing them", path, exc)
        return None


def _write_kept(path: Path, name: str, s: Sessions) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, name=np.array(s.name), tz=np.array(s.tz), dates=s.dates.asi8,
                     opens=s.opens, closes=s.closes)
        os.replace(tmp, path)
        day = path.stem.rsplit("-", 1)[1]
        for old in path.parent.glob(f"{name}-*.npz"):  # the days before (any versions)
            if old.stem.rsplit("-", 1)[1] < day:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a full or read-only disk: the next process computes its own
        _log.warning("could not keep the sessions in %s: %s", path, exc)
        tmp.unlink(missing_ok=True)


@dataclass
class _Rule:
    name: str
    fn: Callback
    times: np.ndarray | None  #: sorted firing times (ns); None for interval rules
    step: int = 0  #: interval rules: period in ns
    market_hours_only: bool = True
    last: int = -(2**62)

    def latest_due(self, t: int, cal: Sessions) -> int | None:
        if self.times is not None:
            i = int(np.searchsorted(self.times, t, side="right")) - 1
            return int(self.times[i]) if i >= 0 else None
        due = t - t % self.step
        if not self.market_hours_only:
            return due
        i = cal.session_index(due)
        if i < 0:
            return None
        if due > cal.closes[i]:
            close = int(cal.closes[i])
            due = close - close % self.step
        return due if due >= cal.opens[i] else None

    def next_due(self, t: int, cal: Sessions) -> int | None:
        """The first firing time after `t` (None when the calendar has no more)."""
        if self.times is not None:
            i = int(np.searchsorted(self.times, t, side="right"))
            return int(self.times[i]) if i < len(self.times) else None
        due = t - t % self.step + self.step
        if not self.market_hours_only:
            return due
        i = cal.session_index(due)
        while True:
            if i >= 0 and due <= cal.closes[i]:
                return due
            i += 1
            if i >= len(cal.opens):
                return None
            opened = int(cal.opens[i])
            due = opened + (-opened) % self.step


class Schedule:
    """Rules that fire callbacks on an exchange calendar, driven by `advance(now)`."""

    def __init__(self, calendar: str = "XNYS") -> None:
        self.calendar = calendar
        self._cal = sessions(calendar)
        self._rules: list[_Rule] = []
        self._now: int | None = None
        self._fired_through: int | None = None

    def __len__(self) -> int:
        return len(self._rules)

    def _add(self, rule: _Rule) -> _Rule:
        if self._now is not None:
            due = rule.latest_due(self._now, self._cal)
            rule.last = due if due is not None else rule.last
        self._rules.append(rule)
        return rule

    def every(
        self,
        fn: Callback,
        seconds: float = 0,
        minutes: float = 0,
        *,
        market_hours_only: bool = True,
    ) -> None:
        """Every N seconds/minutes, aligned to the clock; only in market hours by default."""
        step = int(seconds * _NS_PER_S + minutes * _NS_PER_MIN)
        if step <= 0:
            raise ValueError("every() needs seconds or minutes > 0")
        self._add(_Rule(f"every:{step}", fn, None, step, market_hours_only))

    def at_open(self, fn: Callback, offset_minutes: int = 0) -> None:
        self._add(_Rule("at_open", fn, self._cal.opens + offset_minutes * _NS_PER_MIN))

    def before_close(self, fn: Callback, minutes: int = 15) -> None:
        self._add(_Rule("before_close", fn, self._cal.closes - minutes * _NS_PER_MIN))

    def daily(self, fn: Callback, at: time) -> None:
        """Every session at local exchange time `at`."""
        self._add(_Rule("daily", fn, self._cal.local_times(at)))

    def weekly(
        self, fn: Callback, weekday: int = 0, at: time | None = None, offset_minutes: int = 0
    ) -> None:
        """First session of each week on or after `weekday` (0 = Monday), at local time `at`,
        or `offset_minutes` after that session's open when `at` is None."""
        mask = self._cal.first_of_week(weekday)
        if at is None:
            base = self._cal.opens + offset_minutes * _NS_PER_MIN
        else:
            base = self._cal.local_times(at)
        self._add(_Rule("weekly", fn, base[mask]))

    def month_end(self, fn: Callback, minutes_before_close: int = 15) -> None:
        """Last session of each month, `minutes_before_close` before its close."""
        mask = self._cal.last_of_month()
        times = self._cal.closes - minutes_before_close * _NS_PER_MIN
        self._add(_Rule("month_end", fn, times[mask]))

    @property
    def fired_through(self) -> int | None:
        """Every rule due by this time (ns since the epoch) has fired; None before `start`.
        It moves only when a rule fires, so a strategy's saved state does not change with
        every tick of the clock."""
        return self._fired_through

    def start(self, now: pd.Timestamp, since: int | None = None,
              catch_up: pd.Timedelta | None = None) -> list[str]:
        """Mark everything due at or before `now` as already fired. With `since` (a saved
        `fired_through`), what fell due after it and within `catch_up` of `now` is left for
        the next `advance` to run (the callbacks a restart would otherwise skip); returns the
        names of the rules skipped as older than that."""
        t = _ns(now)
        skipped: list[str] = []
        if since is not None and since < t:
            floor = t - int(catch_up.value) if catch_up is not None else since
            t = max(since, floor)
            skipped = [r.name for r in self._rules
                       if (d := r.latest_due(t, self._cal)) is not None and d > since]
        self._now = self._fired_through = t
        for rule in self._rules:
            due = rule.latest_due(t, self._cal)
            if due is not None:
                rule.last = due
        return skipped

    def next_due(self) -> pd.Timestamp | None:
        """When the next rule falls due after the last `advance` (None before `start`, or when
        nothing is left on the calendar). A replay steps the clock through these times so that
        each callback runs at its own time, as live."""
        if self._now is None:
            return None
        times = [d for r in self._rules if (d := r.next_due(self._now, self._cal)) is not None]
        return pd.Timestamp(min(times), tz="UTC") if times else None

    def advance(self, now: pd.Timestamp) -> int:
        """Fire each rule due at or before `now` once, in time order; returns how many fired."""
        t = _ns(now)
        if self._now is None:
            self.start(now - pd.Timedelta(microseconds=1))
        if self._now is not None and t < self._now:
            return 0
        self._now = t
        due: list[tuple[int, int, _Rule]] = []
        for i, rule in enumerate(self._rules):
            d = rule.latest_due(t, self._cal)
            if d is not None and d > rule.last:
                due.append((d, i, rule))
        due.sort(key=lambda x: (x[0], x[1]))
        if due:
            self._fired_through = t
        for d, _, rule in due:
            rule.last = d
            rule.fn()
        return len(due)


def _ns(ts: pd.Timestamp) -> int:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.value)
