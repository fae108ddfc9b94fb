"""Bars, bar subscriptions and the rolling window of bars a strategy reads."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from ats.barsizes import SIZES
from ats.sdk.instrument import Instrument
from ats.sdk.schedule import sessions

BAR_SIZES: dict[str, pd.Timedelta] = {name: b.length for name, b in SIZES.items()}
COLUMNS = ("open", "high", "low", "close", "volume")
_DAY_NS = 86_400_000_000_000


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; `time` is the bar's start, UTC (a daily bar is stamped with its date)."""

    instrument: str  #: Instrument.key
    time: pd.Timestamp
    open: float
    high: float
    low: float
    close: float
    volume: float


class _UnfrozenBar:
    """A Bar's twin: the same slots in the same order, so the same layout, but not frozen. Its
    plain `__init__` stores each slot directly; `make_bars` then gives it the class Bar."""

    __slots__ = Bar.__slots__

    def __init__(self, instrument: str, time: pd.Timestamp, open: float, high: float,
                 low: float, close: float, volume: float) -> None:
        self.instrument = instrument
        self.time = time
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume


def make_bars(instruments: list[str], times: list[pd.Timestamp], opens: list[float],
              highs: list[float], lows: list[float], closes: list[float],
              volumes: list[float]) -> list[Bar]:
    """`[Bar(*fields) for fields in zip(...)]` at half the cost (a replay makes one per bar):
    each is made as its unfrozen twin, which stores its slots without the frozen `__init__`'s
    `object.__setattr__` per field, then turned into the Bar it is laid out as."""
    made = list(itertools.starmap(_UnfrozenBar, zip(instruments, times, opens, highs, lows,
                                                    closes, volumes, strict=True)))
    for b in made:
        b.__class__ = Bar  # type: ignore[assignment]
    return cast("list[Bar]", made)


@dataclass(frozen=True)
class BarSpec:
    """A subscription: bars of `bar_size` for `instrument`, with `lookback` bars of history.
    With `regular_hours`, intraday bars come only from the strategy calendar's regular
    sessions (no pre- or post-market), live and in backtest alike; daily bars always do."""

    instrument: Instrument
    bar_size: str = "1d"
    lookback: int = 1
    regular_hours: bool = False

    def __post_init__(self) -> None:
        if self.bar_size not in BAR_SIZES:
            raise ValueError(f"bar_size must be one of {list(BAR_SIZES)}, got {self.bar_size!r}")
        if self.lookback < 0:
            raise ValueError("lookback must be >= 0")


#: Bars a window holds beyond its size before it is compacted, at least: a small window
#: (a strategy's usual) is compacted once every SLACK bars, not every `size` bars.
SLACK = 256


class BarWindow:
    """The last `size` bars of one instrument in preallocated numpy arrays.

    Appends are amortised O(1): the arrays hold the window and at least as many bars again
    (`SLACK` for a small window) and are compacted when full.
    `changes` counts the appends and extends that changed the window: an incremental
    indicator fed one close per `on_bar` knows it missed one (a warm-up, a replaced bar) when
    it moved by more than one (`strategies/example.py`).
    """

    __slots__ = ("_buf", "_cap", "_cols", "_df", "_n", "_read", "_start", "_times", "_tv",
                 "changes", "size")

    def __init__(self, size: int) -> None:
        self.size = max(int(size), 1)
        cap = self._cap = self.size + max(self.size, SLACK)
        self._times = np.zeros(cap, dtype=np.int64)
        self._buf = np.zeros((5, cap), dtype=np.float64)
        # A bar is written through memoryviews (a numpy scalar write costs twice as much) and
        # read through views made read-only once, not at every read.
        self._tv: memoryview[int] = self._times.data
        self._cols = tuple(cast("memoryview[float]", self._buf[i].data) for i in range(5))
        read = self._buf.view()
        read.flags.writeable = False
        self._read = tuple(read[i] for i in range(5))
        self._start = 0
        self._n = 0
        self._df: pd.DataFrame | None = None
        self.changes = 0

    def __len__(self) -> int:
        return self._n

    def append(self, t: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Append one bar (t in ns since epoch, UTC); a bar with the same time replaces the last."""
        n = self._n
        end = self._start + n
        if n:
            last = self._tv[end - 1]
            if last == t:
                end -= 1
                n -= 1
            elif last > t:
                return  # out of order: older than what we hold
        if end == self._cap:
            keep = self.size - 1
            src = end - keep
            self._times[:keep] = self._times[src:end]
            self._buf[:, :keep] = self._buf[:, src:end]
            self._start, n, end = 0, keep, keep
        self._tv[end] = t
        cols = self._cols
        cols[0][end] = o
        cols[1][end] = h
        cols[2][end] = lo
        cols[3][end] = c
        cols[4][end] = v
        if n < self.size:
            self._n = n + 1
        else:
            self._n = n
            self._start += 1
        self._df = None
        self.changes += 1

    def extend(self, df: pd.DataFrame) -> None:
        """Append a history frame indexed by time with open/high/low/close/volume columns."""
        if df.empty:
            return
        idx = pd.DatetimeIndex(df.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        times = idx.asi8
        if tuple(df.columns) == COLUMNS:  # the usual frame: one conversion, not five
            every = df.to_numpy(dtype=np.float64).T
        else:
            every = np.array([df[c].to_numpy(dtype=np.float64) if c in df else np.zeros(len(df))
                              for c in COLUMNS])
        # A bar without a close is missing, skipped as the replay and live skip it.
        rows = np.flatnonzero(np.isfinite(every[3]))
        if not len(rows):
            return
        end = self._start + self._n
        newer = not self._n or times[rows[0]] > self._times[end - 1]
        in_order = newer and (len(rows) < 2 or bool(np.all(np.diff(times[rows]) > 0)))
        if in_order:
            rows = rows[-self.size:]  # only the last `size` bars can stay
        cols = every[:, rows]
        if in_order:
            # What appending each in turn leaves: the newest held bars, then these, compacted.
            k = len(rows)
            keep = min(self._n, self.size - k)
            self._times[:keep] = self._times[end - keep : end].copy()
            self._buf[:, :keep] = self._buf[:, end - keep : end].copy()
            self._times[keep : keep + k] = times[rows]
            self._buf[:, keep : keep + k] = cols
            self._start, self._n, self._df = 0, keep + k, None
            self.changes += 1
            return
        for j, i in enumerate(rows):
            self.append(int(times[i]), cols[0][j], cols[1][j], cols[2][j], cols[3][j], cols[4][j])

    def column(self, name: str) -> np.ndarray:
        """A read-only view of one column, oldest first."""
        col: np.ndarray = self._read[COLUMNS.index(name)][self._start : self._start + self._n]
        return col

    def closes(self) -> np.ndarray:
        col: np.ndarray = self._read[3][self._start : self._start + self._n]
        return col

    def last_ns(self) -> int | None:
        """The newest bar's time, ns since the epoch (UTC); None when empty."""
        return self._tv[self._start + self._n - 1] if self._n else None

    def times(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self._times[self._start : self._start + self._n], tz="UTC")

    def last_time(self) -> pd.Timestamp | None:
        if not self._n:
            return None
        return pd.Timestamp(int(self._times[self._start + self._n - 1]), tz="UTC")

    def frame(self) -> pd.DataFrame:
        """The window as a DataFrame indexed by UTC time (cached until the next append)."""
        if self._df is None:
            sl = slice(self._start, self._start + self._n)
            data = {c: self._buf[i, sl].copy() for i, c in enumerate(COLUMNS)}
            self._df = pd.DataFrame(data, index=self.times())
        return self._df


def bar_end(bar_time: pd.Timestamp, bar_size: str, calendar: str = "XNYS") -> pd.Timestamp:
    """When a bar starting at `bar_time` is complete: a daily bar (stamped with its date) at
    its session's close on `calendar`."""
    if bar_size != "1d":
        return bar_time + BAR_SIZES[bar_size]
    return _daily_end(pd.Timestamp(bar_time).value, calendar)


@functools.lru_cache(maxsize=4096)
def _daily_end(stamp: int, calendar: str) -> pd.Timestamp:
    return pd.Timestamp(int(bar_ends(np.array([stamp]), "1d", calendar)[0]), tz="UTC")


def bar_ends(starts: np.ndarray, bar_size: str, calendar: str = "XNYS") -> np.ndarray:
    """`bar_end` of many bar times (ns, UTC) at once."""
    ends: np.ndarray = starts + int(BAR_SIZES[bar_size].value)
    if bar_size != "1d" or not len(starts):
        return ends
    return _at_session(starts, calendar, "closes", ends)


def bar_starts(starts: np.ndarray, bar_size: str, calendar: str = "XNYS") -> np.ndarray:
    """When bars stamped at `starts` (ns, UTC) began trading: a daily bar at its session's
    open, others at their stamp."""
    if bar_size != "1d" or not len(starts):
        return starts
    return _at_session(starts, calendar, "opens", starts)


def _at_session(stamps: np.ndarray, calendar: str, edge: str,
                otherwise: np.ndarray) -> np.ndarray:
    """The `edge` ("opens" or "closes") of the session of each daily bar stamped at its
    date's midnight; `otherwise` where the date holds no session."""
    cal = sessions(calendar)
    days = stamps - stamps % _DAY_NS
    pos = np.clip(np.searchsorted(cal.dates.asi8, days), 0, len(cal.dates) - 1)
    out: np.ndarray = np.where(cal.dates.asi8[pos] == days, getattr(cal, edge)[pos], otherwise)
    return out
