"""Pure indicator functions on numpy arrays (oldest first). NaN where undefined."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

Array = np.ndarray


def sma(x: Array, n: int) -> float:
    """Mean of the last n values (NaN if fewer)."""
    if len(x) < n or n <= 0:
        return math.nan
    return float(np.mean(x[-n:]))


def sma_series(x: Array, n: int) -> Array:
    out = np.full(len(x), np.nan)
    if len(x) >= n > 0:
        c = np.cumsum(np.insert(np.asarray(x, dtype=float), 0, 0.0))
        out[n - 1 :] = (c[n:] - c[:-n]) / n
    return out


def ema_series(x: Array, span: int) -> Array:
    series = pd.Series(np.asarray(x, dtype=float))
    out: Array = series.ewm(span=span, adjust=False).mean().to_numpy()
    return out


def rsi(closes: Array, n: int) -> float:
    """Wilder's RSI of the last value (NaN with fewer than n+1 closes)."""
    if len(closes) < n + 1:
        return math.nan
    d = np.diff(np.asarray(closes, dtype=float))
    up = np.where(d > 0, d, 0.0)
    dn = np.where(d < 0, -d, 0.0)
    au, ad = up[:n].mean(), dn[:n].mean()
    for i in range(n, len(d)):
        au = (au * (n - 1) + up[i]) / n
        ad = (ad * (n - 1) + dn[i]) / n
    if ad == 0:
        return 100.0 if au > 0 else 50.0
    return float(100.0 - 100.0 / (1.0 + au / ad))


def atr(high: Array, low: Array, close: Array, n: int) -> float:
    """Average true range over the last n bars (simple mean; NaN with fewer than n+1 bars)."""
    if len(close) < n + 1:
        return math.nan
    h, lo, c = (np.asarray(a, dtype=float)[-(n + 1) :] for a in (high, low, close))
    prev = c[:-1]
    tr = np.maximum(h[1:] - lo[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    return float(tr.mean())


def zscore(x: Array, n: int) -> float:
    """z-score of the last value against the last n values (NaN if flat or too short)."""
    if len(x) < n or n < 2:
        return math.nan
    w = np.asarray(x[-n:], dtype=float)
    sd = w.std(ddof=1)
    if sd == 0 or not math.isfinite(sd):
        return math.nan
    return float((w[-1] - w.mean()) / sd)


def percent_rank(x: Array, n: int) -> float:
    """Fraction of the last n values strictly below the last value, in [0, 1]."""
    if len(x) < n or n < 2:
        return math.nan
    w = np.asarray(x[-n:], dtype=float)
    return float(np.sum(w[:-1] < w[-1]) / (n - 1))


def ols_beta(y: Array, x: Array) -> tuple[float, float]:
    """(alpha, beta) of y = alpha + beta * x by least squares."""
    xv, yv = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    xm, ym = xv.mean(), yv.mean()
    var = float(np.sum((xv - xm) ** 2))
    if var == 0:
        return math.nan, math.nan
    beta = float(np.sum((xv - xm) * (yv - ym)) / var)
    return float(ym - beta * xm), beta


def realized_vol(closes: Array, n: int, periods_per_year: int = 252) -> float:
    """Annualised standard deviation of the last n log returns (0.20 = 20%)."""
    if len(closes) < n + 1:
        return math.nan
    r = np.diff(np.log(np.asarray(closes[-(n + 1) :], dtype=float)))
    return float(r.std(ddof=1) * math.sqrt(periods_per_year))


def pct_return(closes: Array, n: int) -> float:
    """Return over the last n bars."""
    if len(closes) < n + 1 or closes[-(n + 1)] == 0:
        return math.nan
    return float(closes[-1] / closes[-(n + 1)] - 1.0)
