"""Performance metrics of one equity curve, through empyrical-reloaded.

Conventions (also in metrics.json, and in the README's "Performance reports"):

- **Returns** are simple returns, ``r_t = E_t / E_{t-1} - 1``, of the equity resampled to
  one point per period (the last sample of each period), never log returns. The curve's
  first sample is its starting point (when other samples share its period, it is put one
  period before them). A report since inception starts its curve at the capital base.
- **Frequency.** ``daily`` (the default once there are at least ``MIN_DAILY_RETURNS`` daily
  returns): one point per UTC calendar day, Saturdays and Sundays dropped, 252 periods per
  year. A shorter record is measured ``hourly`` (or ``minute``-ly when even that is short):
  every clock hour (minute) that has a sample, 365.25 x 24 (x 60) periods per year, because the
  broker samples round the clock.
- **Risk-free rate**: an annual rate (0 by default), taken per period as ``risk_free /
  periods_per_year`` and subtracted from each return for Sharpe, Sortino, alpha and beta.
- total_return ``E_end / E_start - 1``; cagr ``(1 + total_return) ** (ppy / n) - 1`` over
  ``n`` returns; volatility ``std(r, ddof=1) * sqrt(ppy)``; sharpe ``mean(r - rf) /
  std(r - rf, ddof=1) * sqrt(ppy)``; sortino ``mean(r - rf) * ppy / (sqrt(mean(min(r - rf,
  0) ** 2)) * sqrt(ppy))``; max_drawdown ``min(E / running_max(E) - 1)`` (a negative
  fraction, 0 without a loss); calmar ``cagr / |max_drawdown|`` (None without a drawdown).
- Against a benchmark ``b`` (its closes taken at the same points): beta ``cov(r - rf, b - rf)
  / var(b - rf)``; alpha ``(1 + mean(r - rf - beta (b - rf))) ** ppy - 1``; correlation
  Pearson's; tracking_error ``std(r - b, ddof=1) * sqrt(ppy)``; information_ratio ``mean(r - b)
  / std(r - b, ddof=1) * sqrt(ppy)``.
- A figure that cannot be computed (too few returns, no variance) is NaN here and null in
  JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Frequency = Literal["daily", "hourly", "minute"]

#: Periods per year of each frequency.
PERIODS_PER_YEAR: dict[str, float] = {
    "daily": 252.0,
    "hourly": 365.25 * 24,
    "minute": 365.25 * 24 * 60,
}
_RULES = {"daily": "D", "hourly": "h", "minute": "min"}
#: ``auto`` picks the coarsest frequency with at least this many returns.
MIN_DAILY_RETURNS = 20
MIN_INTRADAY_RETURNS = 20
#: A rolling figure needs at least this many returns in its window.
ROLLING_MIN_RETURNS = 10


@dataclass(frozen=True)
class Conventions:
    frequency: Frequency = "daily"
    risk_free: float = 0.0  #: annual rate

    @property
    def periods_per_year(self) -> float:
        return PERIODS_PER_YEAR[self.frequency]

    @property
    def risk_free_per_period(self) -> float:
        return self.risk_free / self.periods_per_year

    def to_dict(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "periods_per_year": self.periods_per_year,
                "risk_free": self.risk_free, "returns": "simple"}


def resample(equity: pd.Series, frequency: Frequency) -> pd.Series:
    """The points measured: the last equity of each period that has a sample (weekends
    dropped when daily), after the curve's first sample as its starting point (labelled one
    period earlier) when that sample is not already the last of its period."""
    eq = equity.dropna().sort_index()
    if eq.empty:
        return eq
    labels = eq.index.floor(_RULES[frequency])
    out = eq.groupby(labels).last()
    if frequency == "daily":
        out = out[out.index.dayofweek < 5]
    if (labels == labels[0]).sum() > 1:
        step = pd.Timedelta(1, unit=_RULES[frequency])
        start = pd.Series([eq.iloc[0]], index=pd.DatetimeIndex([labels[0] - step]))
        out = pd.concat([start, out])
    return out


def choose_frequency(equity: pd.Series) -> Frequency:
    """The coarsest frequency that gives enough returns to measure."""
    if len(resample(equity, "daily")) > MIN_DAILY_RETURNS:
        return "daily"
    if len(resample(equity, "hourly")) > MIN_INTRADAY_RETURNS:
        return "hourly"
    return "minute"


def returns(points: pd.Series) -> pd.Series:
    """Simple returns between consecutive points."""
    return points.pct_change().iloc[1:].replace([np.inf, -np.inf], np.nan).dropna()


def drawdown(points: pd.Series) -> pd.Series:
    """Fraction below the running peak at each point (0 at a peak, negative below it)."""
    if points.empty:
        return points
    return points / points.cummax() - 1.0


def max_drawdown_duration_days(points: pd.Series) -> float:
    """Longest time, in days, from a peak until the equity is back at it (or the last point,
    if it never is)."""
    if len(points) < 2:
        return 0.0
    longest = pd.Timedelta(0)
    peak_value, peak_time = float(points.iloc[0]), points.index[0]
    under = False
    for ts, value in points.iloc[1:].items():
        if value >= peak_value:
            if under:
                longest = max(longest, ts - peak_time)
            peak_value, peak_time, under = float(value), ts, False
        else:
            under = True
    if under:
        longest = max(longest, points.index[-1] - peak_time)
    return float(longest / pd.Timedelta(days=1))


def performance(points: pd.Series, conv: Conventions) -> dict[str, float]:
    """The return and risk figures of an equity curve already resampled to `conv`'s points."""
    import empyrical as ep  # with scipy: loaded only when something is measured

    r = returns(points)
    ppy = conv.periods_per_year
    rf = conv.risk_free_per_period
    total = float(points.iloc[-1] / points.iloc[0] - 1) if len(points) >= 2 else math.nan
    mdd = float(ep.max_drawdown(r)) if len(r) else math.nan
    cagr = float(ep.annual_return(r, annualization=ppy)) if len(r) else math.nan
    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": float(ep.annual_volatility(r, annualization=ppy)),
        "sharpe": float(ep.sharpe_ratio(r, risk_free=rf, annualization=ppy)),
        "sortino": float(ep.sortino_ratio(r, required_return=rf, annualization=ppy)),
        "max_drawdown": mdd,
        "max_drawdown_duration_days": max_drawdown_duration_days(points),
        "calmar": cagr / abs(mdd) if mdd < 0 else math.nan,
        "n_returns": float(len(r)),
    }


def relative(points: pd.Series, bench_points: pd.Series, conv: Conventions) -> dict[str, float]:
    """The curve against a benchmark whose closes are taken at the same points."""
    import empyrical as ep

    both = pd.concat([returns(points), returns(bench_points)], axis=1, join="inner").dropna()
    r, b = both.iloc[:, 0], both.iloc[:, 1]
    ppy = conv.periods_per_year
    rf = conv.risk_free_per_period
    nan = math.nan
    if len(both) < 2:
        return {"beta": nan, "alpha": nan, "correlation": nan, "tracking_error": nan,
                "information_ratio": nan, "n_common_returns": float(len(both))}
    alpha, beta = ep.alpha_beta(r, b, risk_free=rf, annualization=ppy)
    active = r - b
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = float(np.corrcoef(r, b)[0, 1]) if r.std() > 0 and b.std() > 0 else nan
    return {
        "beta": float(beta),
        "alpha": float(alpha),
        "correlation": corr,
        "tracking_error": float(ep.annual_volatility(active, annualization=ppy)),
        "information_ratio": float(ep.excess_sharpe(r, b)) * math.sqrt(ppy),
        "n_common_returns": float(len(both)),
    }


def rolling_sharpe(points: pd.Series, window: pd.Timedelta, conv: Conventions) -> pd.Series:
    """Sharpe over the trailing `window` of calendar time, at each point (NaN while the
    window holds fewer than ROLLING_MIN_RETURNS returns)."""
    r = returns(points)
    if r.empty:
        return r
    rf = conv.risk_free_per_period
    ex = r - rf
    roll = ex.rolling(window, min_periods=ROLLING_MIN_RETURNS)
    return (roll.mean() / roll.std(ddof=1) * math.sqrt(conv.periods_per_year)).replace(
        [np.inf, -np.inf], np.nan)


def trade_stats(fills: pd.DataFrame) -> dict[str, float]:
    """From fill rows with ``realized_pnl`` (gross of commissions, as the ledger books it):
    a fill that realized P&L closed (part of) a position and counts as one trade."""
    pnl = pd.to_numeric(fills.get("realized_pnl", pd.Series(dtype=float)), errors="coerce")
    closed = pnl[pnl.notna() & (pnl.abs() > 1e-9)]
    wins, losses = closed[closed > 0], closed[closed < 0]
    nan = math.nan
    return {
        "trades": float(len(closed)),
        "hit_rate": len(wins) / len(closed) if len(closed) else nan,
        "average_win": float(wins.mean()) if len(wins) else nan,
        "average_loss": float(losses.mean()) if len(losses) else nan,
        "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else nan,
        "realized_pnl": float(closed.sum()),
    }


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain Python, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
