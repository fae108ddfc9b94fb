"""Deterministic synthetic bars for strategy tests, demos and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ats.sdk.instrument import Future, Instrument
from ats.sdk.schedule import sessions


def trading_days(start: str, n: int, calendar: str = "XNYS") -> pd.DatetimeIndex:
    """`n` consecutive session dates from `start` (UTC midnight stamps, like IB daily bars)."""
    cal = sessions(calendar)
    i = int(np.searchsorted(cal.dates.asi8, pd.Timestamp(start).value))
    dates = cal.dates[i : i + n]
    if len(dates) < n:
        raise ValueError(f"calendar {calendar} has only {len(dates)} sessions after {start}")
    return pd.DatetimeIndex(dates).tz_localize("UTC")


def daily_bars(
    closes: Sequence[float] | np.ndarray,
    start: str = "2020-01-02",
    *,
    volume: float | Sequence[float] = 1_000_000.0,
    spread: float = 0.005,
    index: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Daily OHLCV frame from closes: open = previous close, high/low = +-spread around them."""
    c = np.asarray(closes, dtype=float)
    idx = index if index is not None else trading_days(start, len(c))
    o = np.concatenate([[c[0]], c[:-1]])
    hi = np.maximum(o, c) * (1 + spread)
    lo = np.minimum(o, c) * (1 - spread)
    vol = np.broadcast_to(np.asarray(volume, dtype=float), c.shape).copy()
    return pd.DataFrame({"open": o, "high": hi, "low": lo, "close": c, "volume": vol}, index=idx)


def intraday_bars(
    closes: Sequence[float] | np.ndarray,
    day: str = "2024-03-04",
    *,
    minutes: int = 5,
    volume: float | Sequence[float] = 10_000.0,
    spread: float = 0.0005,
) -> pd.DataFrame:
    """Bars of `minutes` from the open of session `day` (continuing into later sessions)."""
    c = np.asarray(closes, dtype=float)
    cal = sessions("XNYS")
    i = int(np.searchsorted(cal.dates.asi8, pd.Timestamp(day).value))
    stamps: list[int] = []
    step = minutes * 60_000_000_000
    while len(stamps) < len(c):
        t, close = int(cal.opens[i]), int(cal.closes[i])
        while t < close and len(stamps) < len(c):
            stamps.append(t)
            t += step
        i += 1
    idx = pd.DatetimeIndex(np.array(stamps, dtype=np.int64), tz="UTC")
    return daily_bars(c, volume=volume, spread=spread, index=idx)


def random_walk(n: int, start: float = 100.0, vol: float = 0.01, seed: int = 0,
                drift: float = 0.0) -> np.ndarray:
    """A seeded geometric random walk of `n` closes."""
    rng = np.random.default_rng(seed)
    out: np.ndarray = start * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    return out


def third_wednesday(year: int, month: int) -> pd.Timestamp:
    first = pd.Timestamp(year=year, month=month, day=1)
    offset = (2 - first.weekday()) % 7
    return first + pd.Timedelta(days=offset + 14)


def monthly_futures(
    symbol: str,
    index: pd.DatetimeIndex,
    spot: Sequence[float] | np.ndarray,
    *,
    slope: float = 0.04,
    multiplier: float | None = None,
) -> dict[Instrument, pd.DataFrame]:
    """Monthly contracts expiring on third Wednesdays, priced spot x (1 + slope x months to
    expiry) (contango for slope > 0), each with bars up to and including its expiry date."""
    s = np.asarray(spot, dtype=float)
    out: dict[Instrument, pd.DataFrame] = {}
    start, end = index[0], index[-1] + pd.Timedelta(days=120)
    for period in pd.period_range(start.strftime("%Y-%m"), end.strftime("%Y-%m"), freq="M"):
        exp = third_wednesday(period.year, period.month)
        inst = Future(symbol, exp.strftime("%Y%m%d"), multiplier=multiplier)
        days = (exp.tz_localize("UTC") - index).days.to_numpy()
        live = (days >= 0) & (days <= 240)
        if not live.any():
            continue
        px = s[live] * (1 + slope * days[live] / 30.0)
        out[inst] = daily_bars(px, index=index[live])
    return out
