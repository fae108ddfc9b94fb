"""Which time ranges are missing from storage, and how to cut them into IB-sized requests.

Coverage is the inclusive range [first, last] of bar START times for which every bar IB has
is stored. Only completed bars are stored (start + size <= the request's end), so a stored bar
never changes and nothing is written twice. A fetch fills the head (older than the coverage)
newest-first and the tail (newer) oldest-first, so the coverage stays one interval even when
a fetch is interrupted: a re-run continues where it stopped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from ats.barsizes import SIZES

Direction = Literal["back", "forward"]
_DURATION = re.compile(r"(\d+)\s*(s|d|w|m|mo|y)", re.IGNORECASE)


@dataclass(frozen=True)
class Coverage:
    first: pd.Timestamp  #: earliest bar start covered
    last: pd.Timestamp  #: latest bar start covered


@dataclass(frozen=True)
class Gap:
    """A missing range of bar starts, [start, end), filled newest-first when `back`."""

    start: pd.Timestamp
    end: pd.Timestamp
    direction: Direction


@dataclass(frozen=True)
class Chunk:
    """One request: bars starting in [start, end) (whose completion is at most `end`)."""

    start: pd.Timestamp
    end: pd.Timestamp


def bar_delta(bar_size: str) -> pd.Timedelta:
    return SIZES[bar_size].length


def utc(ts: object) -> pd.Timestamp:
    t = pd.Timestamp(ts)  # type: ignore[arg-type]
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def parse_duration(text: str) -> pd.DateOffset:
    """``10y``, ``6m`` (months), ``2w``, ``30d``, ``3600s``; IB's ``10 Y`` also works."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (examples: 10y, 6m, 2w, 30d, 3600s)")
    n, unit = int(m.group(1)), m.group(2).lower()
    if n <= 0:
        raise ValueError(f"bad duration {text!r}: must be positive")
    key = {"s": "seconds", "d": "days", "w": "weeks", "m": "months", "mo": "months",
           "y": "years"}[unit]
    return pd.DateOffset(**{key: n})


def missing(start: pd.Timestamp, end: pd.Timestamp, bar_size: str,
            coverage: Coverage | None) -> list[Gap]:
    """Gaps between the wanted range of bar starts [start, end - size] and the coverage.

    `end` is when the wanted data is complete (a bar is wanted when start + size <= end).
    """
    size = bar_delta(bar_size)
    if end - size < start:
        return []
    if coverage is None:
        return [Gap(start, end, "back")]
    gaps = []
    if start < coverage.first:
        gaps.append(Gap(start, coverage.first, "back"))
    if end - size > coverage.last:
        gaps.append(Gap(coverage.last + pd.Timedelta(1, "ns"), end, "forward"))
    return gaps


def chunks(gap: Gap, bar_size: str) -> list[Chunk]:
    """Cut `gap` into requests no longer than IB serves at once, in the order they should be
    sent."""
    span = SIZES[bar_size].request_span
    out: list[Chunk] = []
    if gap.direction == "back":
        hi = gap.end
        while hi > gap.start:
            lo = max(gap.start, hi - span)
            out.append(Chunk(lo, hi))
            hi = lo
    else:
        lo = gap.start
        while lo < gap.end:
            hi = min(gap.end, lo + span)
            out.append(Chunk(lo, hi))
            lo = hi
    return out


def request_end(chunk: Chunk, bar_size: str, complete_by: pd.Timestamp) -> pd.Timestamp:
    """Where to end the request so the chunk's last bar (which ends after chunk.end) is in it."""
    return min(chunk.end + bar_delta(bar_size), complete_by)


def ib_duration(start: pd.Timestamp, end: pd.Timestamp, bar_size: str) -> str:
    """IB durationStr covering [start, end]: seconds under a day (and for 5 s bars), else days.

    Daily requests over-cover (IB counts "D" of daily bars in sessions); `keep` trims.
    """
    seconds = (end - start).total_seconds()
    if bar_size == "5s" or seconds < 86400:
        return f"{max(60, math.ceil(seconds))} S"
    return f"{min(365, math.ceil(seconds / 86400))} D"


def ib_end(ts: pd.Timestamp) -> str:
    """IB endDateTime in UTC: ``YYYYMMDD-HH:MM:SS``."""
    return str(utc(ts).strftime("%Y%m%d-%H:%M:%S"))


def keep(df: pd.DataFrame, chunk: Chunk, bar_size: str,
         complete_by: pd.Timestamp) -> pd.DataFrame:
    """Rows of `df` that belong to `chunk` (start in [start, end)) and are complete."""
    size = bar_delta(bar_size)
    idx = pd.DatetimeIndex(df.index)
    if idx.tz is None:  # an empty answer's index has no time zone
        idx = idx.tz_localize("UTC")
    mask = (idx >= chunk.start) & (idx < chunk.end) & (idx + size <= complete_by)
    return df[mask]


def extend(cov: Coverage | None, chunk: Chunk, bar_size: str,
           complete_by: pd.Timestamp) -> Coverage:
    """The coverage after the chunk's complete bars are stored."""
    last = min(chunk.end - pd.Timedelta(1, "ns"), complete_by - bar_delta(bar_size))
    if cov is None:
        return Coverage(chunk.start, last)
    return Coverage(min(cov.first, chunk.start), max(cov.last, last))
