"""A report of one Book: its metrics (since inception and per period), against a benchmark,
and the files `ats-ctl report` and `ats-ctl backtest --report` write."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ats.report import metrics as m
from ats.report.inputs import Book, traded_notional

#: Trailing windows measured besides today, month to date, year to date and inception.
ROLLING_DAYS = (30, 90)
#: The figures against the benchmark (metrics.relative), kept in metrics.json's `benchmark`.
RELATIVE = ("beta", "alpha", "correlation", "tracking_error", "information_ratio",
            "n_common_returns")
TRADE_COLUMNS = ["time", "strategy", "symbol", "side", "shares", "price", "multiplier",
                 "commission", "realized_pnl", "exec_id", "order_ref"]


@dataclass(frozen=True)
class Benchmark:
    symbol: str
    closes: pd.Series  #: close of each bar, indexed by the bar's start (UTC)
    source: str  #: where the bars came from, in words


@dataclass
class Report:
    book: Book
    conventions: m.Conventions
    points: pd.Series  #: the equity resampled to the conventions' frequency
    bench_points: pd.Series | None  #: the benchmark's closes at the same points
    metrics: dict[str, Any]
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)


def bench_at(points: pd.Series, closes: pd.Series, conv: m.Conventions) -> pd.Series | None:
    """The benchmark's last close at or before the end of each point's period; None when it
    has no bar within the curve's dates."""
    if closes.empty or points.empty:
        return None
    c = closes.dropna().sort_index()
    c.index = pd.DatetimeIndex(c.index).tz_convert("UTC") if c.index.tz is not None \
        else pd.DatetimeIndex(c.index).tz_localize("UTC")
    c = m.resample(c, conv.frequency)
    inside = c[(c.index >= points.index[0]) & (c.index <= points.index[-1])]
    if inside.empty:
        return None
    joined = c.reindex(c.index.union(points.index)).ffill()
    return joined.reindex(points.index).rename("benchmark")


def period_starts(as_of: pd.Timestamp, inception: pd.Timestamp) -> dict[str, pd.Timestamp]:
    day = as_of.floor("D")
    out = {"today": day, "mtd": day.replace(day=1), "ytd": day.replace(month=1, day=1),
           "inception": inception}
    for n in ROLLING_DAYS:
        out[f"rolling_{n}d"] = as_of - pd.Timedelta(days=n)
    return out


def _window(points: pd.Series, start: pd.Timestamp) -> pd.Series:
    """The points from `start` on, with the last point before it as the starting value."""
    before = points[points.index < start]
    after = points[points.index >= start]
    return pd.concat([before.iloc[-1:], after]) if len(before) else after


def _figures(points: pd.Series, bench: pd.Series | None,
             conv: m.Conventions) -> dict[str, Any]:
    out: dict[str, Any] = dict(m.performance(points, conv))
    if bench is not None and bench.notna().sum() >= 2:
        b = bench.dropna()
        out["benchmark_return"] = float(b.iloc[-1] / b.iloc[0] - 1)
        out.update(m.relative(points, bench, conv))
    return out


def activity(book: Book, points: pd.Series) -> dict[str, float]:
    """Trades, turnover, exposures and commissions of the book over the points' dates."""
    fills = book.fills
    avg_equity = float(book.equity.mean()) if len(book.equity) else float("nan")
    notional = traded_notional(fills)
    eq = book.equity.where(book.equity != 0)
    gross = (book.gross_exposure / eq).dropna()
    net = (book.net_exposure / eq).dropna()
    return {
        **m.trade_stats(fills),
        "fills": float(len(fills)),
        "commissions": float(fills["commission"].sum()),
        "traded_notional": notional,
        "turnover": notional / avg_equity if avg_equity else float("nan"),
        "gross_exposure_avg": float(gross.mean()) if len(gross) else float("nan"),
        "net_exposure_avg": float(net.mean()) if len(net) else float("nan"),
        "gross_exposure_last": float(gross.iloc[-1]) if len(gross) else float("nan"),
        "net_exposure_last": float(net.iloc[-1]) if len(net) else float("nan"),
    }


def build(book: Book, benchmark: Benchmark | None, *, frequency: str = "auto",
          risk_free: float = 0.0, benchmark_symbol: str = "SPY",
          benchmark_note: str = "") -> Report:
    """Measure `book` (see ats.report.metrics for every convention)."""
    freq: m.Frequency = (m.choose_frequency(book.equity) if frequency == "auto"
                         else frequency)  # type: ignore[assignment]
    conv = m.Conventions(freq, risk_free)
    points = m.resample(book.equity, freq)
    bench = bench_at(points, benchmark.closes, conv) if benchmark is not None else None
    top = _figures(points, bench, conv)
    info: dict[str, Any] = {
        "name": book.name,
        "start": book.equity.index[0].isoformat() if len(book.equity) else None,
        "end": book.equity.index[-1].isoformat() if len(book.equity) else None,
        "capital_base": book.capital_base,
        "capital_base_rule": book.base_rule,
        "final_equity": float(book.equity.iloc[-1]) if len(book.equity) else book.capital_base,
        **conv.to_dict(),
        **{k: v for k, v in top.items() if k not in RELATIVE and k != "benchmark_return"},
        **activity(book, points),
    }
    if bench is not None and benchmark is not None:
        b = bench.dropna()
        info["benchmark"] = {
            "symbol": benchmark.symbol, "source": benchmark.source, "available": True,
            **{k: v for k, v in m.performance(b, conv).items()
               if k in ("total_return", "cagr", "volatility", "sharpe", "sortino",
                        "max_drawdown")},
            **{k: top.get(k, float("nan")) for k in RELATIVE},
        }
    else:
        info["benchmark"] = {"symbol": benchmark_symbol, "available": False,
                             "reason": benchmark_note or "no benchmark bars in these dates"}
    periods = {}
    if len(points):
        for label, start in period_starts(points.index[-1], points.index[0]).items():
            window = _window(points, start)
            figures = _figures(window, None if bench is None else bench.reindex(window.index),
                               conv)
            if label != "inception":  # no annualised growth of part of a year
                for key in ("cagr", "calmar"):
                    figures.pop(key, None)
            periods[label] = {"start": window.index[0].isoformat(), **figures}
    info["periods"] = periods
    return Report(book, conv, points, bench, info)


def write(report: Report, out: Path, strategies: Mapping[str, Report] | None = None) -> None:
    """report.html, metrics.json, equity.csv (timestamp,equity) and trades.csv in `out`."""
    from ats.report.tearsheet import render  # matplotlib: the `plot` extra

    out.mkdir(parents=True, exist_ok=True)
    info = dict(report.metrics)
    if strategies:
        info["strategies"] = {name: r.metrics for name, r in strategies.items()}
    (out / "metrics.json").write_text(json.dumps(m.clean(info), indent=2, sort_keys=False)
                                      + "\n")
    eq = report.book.equity
    pd.DataFrame({"timestamp": [t.isoformat(timespec="microseconds") for t in eq.index],
                  "equity": eq.to_numpy()}).to_csv(out / "equity.csv", index=False)
    trades = report.book.fills.copy()
    trades["time"] = [t.isoformat() for t in trades["time"]]
    trades.reindex(columns=TRADE_COLUMNS).to_csv(out / "trades.csv", index=False)
    (out / "report.html").write_text(render(report, strategies or {}), encoding="utf-8")
