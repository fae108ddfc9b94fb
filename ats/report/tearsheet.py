"""report.html: one self-contained page (inline CSS, charts as inline SVG drawn by matplotlib),
so it opens offline and can be mailed as it is."""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from ats.report import metrics as m
from ats.report.build import Report

INK, ACCENT, BENCH, LOSS, GRID = "#1f2933", "#1d4ed8", "#9aa5b1", "#c0392b", "#e4e7eb"
PERIOD_LABELS = {"today": "Today", "mtd": "Month to date", "ytd": "Year to date",
                 "inception": "Since inception", "rolling_30d": "Last 30 days",
                 "rolling_90d": "Last 90 days"}
NA = "&ndash;"  #: a figure that cannot be computed
#: Fewer returns than this: the page says the annualised figures say little.
SHORT_RECORD = 20
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

plt.rcParams.update({"font.size": 9, "axes.edgecolor": "#cbd2d9", "axes.labelcolor": INK,
                     "xtick.color": "#52606d", "ytick.color": "#52606d",
                     "axes.spines.top": False, "axes.spines.right": False,
                     "svg.fonttype": "path"})


def _num(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def pct(v: Any, digits: int = 2) -> str:
    x = _num(v)
    return NA if not math.isfinite(x) else f"{x * 100:,.{digits}f}%"


def ratio(v: Any) -> str:
    x = _num(v)
    return NA if not math.isfinite(x) else f"{x:,.2f}"


def money(v: Any) -> str:
    x = _num(v)
    return NA if not math.isfinite(x) else f"{x:,.2f}"


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _empty(message: str) -> str:
    return f'<p class="empty">{html.escape(message)}</p>'


def _axes(height: float = 2.6) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(10, height))
    ax.grid(True, color=GRID, linewidth=0.7)
    return fig, ax


def equity_chart(r: Report) -> str:
    fig, ax = _axes(3.2)
    eq = r.book.equity
    if len(eq) and len(r.points):  # from the first point, as total_return
        ax.plot(eq.index, (eq / r.points.iloc[0] - 1) * 100, color=ACCENT, linewidth=1.4,
                label=r.book.name)
    if r.bench_points is not None and r.bench_points.notna().sum() >= 2:
        b = r.bench_points.dropna()
        ax.plot(b.index, (b / b.iloc[0] - 1) * 100, color=BENCH, linewidth=1.2,
                label=str(r.metrics["benchmark"]["symbol"]))
    ax.axhline(0, color="#7b8794", linewidth=0.6)
    ax.set_ylabel("cumulative return, %")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=3, frameon=False)
    fig.autofmt_xdate()
    return _svg(fig)


def underwater_chart(r: Report) -> str:
    fig, ax = _axes(2.0)
    dd = m.drawdown(r.points) * 100
    if len(dd):
        ax.fill_between(dd.index, dd.to_numpy(), 0, color=LOSS, alpha=0.35, linewidth=0,
                        step="post")
        ax.plot(dd.index, dd.to_numpy(), color=LOSS, linewidth=0.8, drawstyle="steps-post")
    ax.set_ylabel("drawdown, %")
    fig.autofmt_xdate()
    return _svg(fig)


def monthly_returns(points: pd.Series) -> pd.DataFrame:
    """Return of each calendar month (rows: years, columns: 1..12), from the month's last
    point and the previous month's last point (the first month: from the first point)."""
    if len(points) < 2:
        return pd.DataFrame()
    idx = pd.DatetimeIndex(points.index).tz_convert("UTC").tz_localize(None)
    ends = pd.Series(points.to_numpy(), index=idx).groupby(idx.to_period("M")).last()
    prev = ends.shift(1)
    prev.iloc[0] = float(points.iloc[0])
    monthly = ends / prev - 1
    table = pd.DataFrame({"year": [p.year for p in monthly.index],
                          "month": [p.month for p in monthly.index], "r": monthly.to_numpy()})
    return table.pivot(index="year", columns="month", values="r").reindex(
        columns=range(1, 13))


def heatmap_chart(r: Report) -> str:
    table = monthly_returns(r.points)
    rows = max(len(table), 1)
    fig, ax = plt.subplots(figsize=(10, 0.45 * rows + 0.8))
    if table.empty:
        plt.close(fig)
        return _empty("not enough data")
    data = table.to_numpy(float) * 100
    finite = data[np.isfinite(data)]
    span = max(float(np.abs(finite).max()) if finite.size else 1.0, 0.01)
    ax.imshow(np.ma.masked_invalid(data), cmap="RdYlGn", aspect="auto",
              norm=TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span))
    for (i, j), v in np.ndenumerate(data):
        if np.isfinite(v):
            strong = abs(v) > 0.6 * span
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if strong else INK)
    ax.set_xticks(range(12), MONTHS)
    ax.set_yticks(range(len(table)), [str(y) for y in table.index])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return _svg(fig)


def rolling_chart(r: Report) -> str:
    fig, ax = _axes(2.2)
    for days, color in ((30, ACCENT), (90, INK)):
        s = m.rolling_sharpe(r.points, pd.Timedelta(days=days), r.conventions)
        if s.notna().any():
            ax.plot(s.index, s.to_numpy(), color=color, linewidth=1.1, label=f"{days} days")
    if not ax.get_lines():
        plt.close(fig)
        return _empty(f"fewer than {m.ROLLING_MIN_RETURNS} returns in a 30-day window yet")
    ax.axhline(0, color="#7b8794", linewidth=0.6)
    ax.set_ylabel("rolling Sharpe")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=3, frameon=False)
    fig.autofmt_xdate()
    return _svg(fig)


def exposure_chart(r: Report) -> str:
    fig, ax = _axes(2.2)
    eq = r.book.equity.where(r.book.equity != 0)
    gross = (r.book.gross_exposure / eq * 100).dropna()
    net = (r.book.net_exposure / eq * 100).dropna()
    if len(gross):
        ax.fill_between(gross.index, gross.to_numpy(), 0, color=ACCENT, alpha=0.15,
                        linewidth=0, step="post", label="gross")
        ax.plot(net.index, net.to_numpy(), color=INK, linewidth=1.0, drawstyle="steps-post",
                label="net")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=3, frameon=False)
    ax.axhline(0, color="#7b8794", linewidth=0.6)
    ax.set_ylabel("% of equity")
    fig.autofmt_xdate()
    return _svg(fig)


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _tiles(info: Mapping[str, Any]) -> str:
    """The headline figures; on a short record the annualised ones read "short record" (as
    in the web console) rather than a number that says little."""
    short = _short(info)

    def yearly(v: str) -> str:
        return _SHORT_CELL if short else v

    tiles = [("Total return", pct(info.get("total_return"))),
             ("CAGR", yearly(pct(info.get("cagr")))),
             ("Volatility", yearly(pct(info.get("volatility")))),
             ("Sharpe", yearly(ratio(info.get("sharpe")))),
             ("Sortino", yearly(ratio(info.get("sortino")))),
             ("Max drawdown", pct(info.get("max_drawdown"))),
             ("Calmar", yearly(ratio(info.get("calmar"))))]
    return "".join(f'<div class="tile"><div class="v">{v}</div><div class="k">{k}</div></div>'
                   for k, v in tiles)


_SHORT_CELL = '<span class="muted">short record</span>'


def _short(info: Mapping[str, Any]) -> bool:
    n = _num(info.get("n_returns"))
    return math.isfinite(n) and n < SHORT_RECORD


def _short_note(info: Mapping[str, Any]) -> str:
    if not _short(info):
        return ""
    return (f'<p class="note">Measured on {_num(info.get("n_returns")):.0f} {info["frequency"]} '
            f"returns only: the annualised figures (CAGR, volatility, Sharpe, Sortino, Calmar) "
            f"and the statistics against the benchmark need at least {SHORT_RECORD}, and are "
            "in metrics.json for whoever wants them."
            "</p>")


def _periods(info: Mapping[str, Any]) -> str:
    rows = []
    for key, label in PERIOD_LABELS.items():
        p = info.get("periods", {}).get(key)
        if p is None:
            continue
        short = _short(p)  # annualised figures of so few returns say little
        rows.append([label, pct(p.get("total_return")), pct(p.get("benchmark_return")),
                     _SHORT_CELL if short else pct(p.get("volatility")),
                     _SHORT_CELL if short else ratio(p.get("sharpe")),
                     pct(p.get("max_drawdown"))])
    return _table(["Period", "Return", "Benchmark", "Volatility", "Sharpe", "Max drawdown"],
                  rows, "num")


def _kv(pairs: list[tuple[str, str]]) -> str:
    return _table(["", ""], [[html.escape(k), v] for k, v in pairs], "kv")


def _strategies(strategies: Mapping[str, Report]) -> str:
    rows = []
    for name, rep in strategies.items():
        s = rep.metrics
        rows.append([html.escape(name), money(s.get("capital_base")),
                     pct(s.get("total_return")), pct(s.get("volatility")),
                     ratio(s.get("sharpe")), pct(s.get("max_drawdown")),
                     pct(s.get("hit_rate"), 0), ratio(s.get("profit_factor")),
                     ratio(s["benchmark"].get("beta")), money(s.get("commissions"))])
    return _table(["Strategy", "Capital base", "Return", "Volatility", "Sharpe",
                   "Max drawdown", "Hit rate", "Profit factor", "Beta", "Commissions"],
                  rows, "num")


def render(r: Report, strategies: Mapping[str, Report]) -> str:
    info = r.metrics
    bench = info["benchmark"]
    title = "Account" if r.book.name == "account" else f"Strategy {r.book.name}"
    start = str(info.get("start") or "")[:16].replace("T", " ")
    end = str(info.get("end") or "")[:16].replace("T", " ")
    short = _short(info)  # a beta or an alpha of a few returns says little

    def estimate(v: str) -> str:
        return _SHORT_CELL if short else v

    bench_rows = ([("Symbol", html.escape(str(bench["symbol"]))),
                   ("Benchmark return", pct(bench.get("total_return"))),
                   ("Benchmark volatility", estimate(pct(bench.get("volatility")))),
                   ("Beta", estimate(ratio(bench.get("beta")))),
                   ("Alpha (annual)", estimate(pct(bench.get("alpha")))),
                   ("Correlation", estimate(ratio(bench.get("correlation")))),
                   ("Tracking error", estimate(pct(bench.get("tracking_error")))),
                   ("Information ratio", estimate(ratio(bench.get("information_ratio"))))]
                  if bench.get("available") else
                  [("Symbol", html.escape(str(bench["symbol"]))),
                   ("Not available", html.escape(str(bench.get("reason", ""))))])
    trade_rows = [("Closing trades", f"{_num(info.get('trades')):,.0f}"),
                  ("Hit rate", pct(info.get("hit_rate"), 1)),
                  ("Average win", money(info.get("average_win"))),
                  ("Average loss", money(info.get("average_loss"))),
                  ("Profit factor", ratio(info.get("profit_factor"))),
                  ("Fills", f"{_num(info.get('fills')):,.0f}"),
                  ("Commissions paid", money(info.get("commissions"))),
                  ("Turnover (x capital)", ratio(info.get("turnover"))),
                  ("Gross exposure, average", pct(info.get("gross_exposure_avg"), 1)),
                  ("Net exposure, average", pct(info.get("net_exposure_avg"), 1)),
                  ("Max drawdown duration", f"{_num(info.get('max_drawdown_duration_days')):,.1f}"
                                            " days")]
    sections: list[tuple[str, Callable[[Report], str]]] = [
        ("Cumulative return against the benchmark", equity_chart),
        ("Underwater (drawdown from the running peak)", underwater_chart),
        ("Monthly returns, %", heatmap_chart),
        ("Rolling Sharpe ratio", rolling_chart),
        ("Exposure", exposure_chart),
    ]
    charts = "".join(f"<section><h2>{html.escape(h)}</h2>{draw(r)}</section>"
                     for h, draw in sections)
    strat = (f"<section><h2>Strategies</h2>{_strategies(strategies)}</section>"
             if strategies else "")
    conv = (f"Simple returns of the equity sampled {info['frequency']} "
            f"({info['periods_per_year']:g} periods a year), risk-free rate "
            f"{pct(info['risk_free'])} a year. Capital base {money(info['capital_base'])}: "
            f"{html.escape(str(info['capital_base_rule']))}. Max drawdown is a negative "
            "fraction of the running peak; trade statistics count fills that realized P&L "
            "(gross of commissions).")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}: performance report</title>
<style>{CSS}</style></head>
<body><main>
<header><h1>{html.escape(title)}</h1>
<p class="sub">Performance report · {html.escape(start)} to {html.escape(end)} UTC ·
benchmark {html.escape(str(bench["symbol"]))}</p></header>
<div class="tiles">{_tiles(info)}</div>
{_short_note(info)}
<div class="cols"><section><h2>Periods</h2>{_periods(info)}</section></div>
{charts}
<div class="cols two"><section><h2>Against the benchmark</h2>{_kv(bench_rows)}</section>
<section><h2>Trading</h2>{_kv(trade_rows)}</section></div>
{strat}
<footer>{conv}</footer>
</main></body></html>
"""


CSS = """
body{margin:0;background:#f5f7fa;color:#1f2933;font:14px/1.45 -apple-system,"Segoe UI",
Helvetica,Arial,sans-serif}
main{max-width:1060px;margin:0 auto;padding:28px 32px 40px;background:#fff;
box-shadow:0 0 0 1px #e4e7eb}
h1{margin:0;font-size:26px;font-weight:600}
.sub{margin:4px 0 20px;color:#616e7c}
h2{font-size:15px;font-weight:600;margin:26px 0 8px;color:#323f4b}
.tiles{display:grid;grid-template-columns:repeat(7,1fr);gap:10px}
.tile{border:1px solid #e4e7eb;border-radius:6px;padding:10px 12px;background:#fbfcfd}
.tile .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
.tile .k{color:#616e7c;font-size:12px}
.tile .muted{color:#9aa5b1;font-size:14px;font-weight:500}
.cols.two{display:grid;grid-template-columns:1fr 1fr;gap:28px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid #e4e7eb;text-align:right}
th:first-child,td:first-child{text-align:left}
th{color:#616e7c;font-weight:500;font-size:12px}
table.kv thead{display:none}
svg{width:100%;height:auto}
.empty{color:#7b8794;font-style:italic;margin:6px 0 0}
.note{margin:10px 0 0;padding:8px 12px;background:#fffbea;border:1px solid #f7e3a1;
border-radius:6px;color:#513c06;font-size:13px}
footer{margin-top:28px;color:#7b8794;font-size:12px}
"""
