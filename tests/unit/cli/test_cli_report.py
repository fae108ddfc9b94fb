"""ats-ctl report and backtest --report on a fixed ledger, equity curve and stored bars: the
files, the keys of metrics.json, and its figures recomputed independently from equity.csv."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ats import config
from ats.broker.ledger import Ledger
from ats.broker.ledger_store import LedgerStore
from ats.cli.main import cli
from ats.data.store import BarStore
from ats.orders.fills import CommissionReport, Execution
from ats.sim.commissions import US_MIN_PER_ORDER

DAYS = pd.bdate_range("2026-01-05", periods=60, tz="UTC")
SPY = 500 * np.cumprod(1 + np.random.default_rng(7).normal(0.0004, 0.01, len(DAYS)))
FILES = {"report.html", "metrics.json", "equity.csv", "trades.csv"}
KEYS = {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar",
        "benchmark", "periods_per_year", "risk_free", "capital_base", "hit_rate",
        "average_win", "average_loss", "profit_factor", "turnover", "gross_exposure_avg",
        "net_exposure_avg", "commissions", "max_drawdown_duration_days", "periods"}


def store_spy(cfg: config.Config) -> None:
    bars = pd.DataFrame({"open": SPY, "high": SPY * 1.01, "low": SPY * 0.99, "close": SPY,
                         "volume": 1e6}, index=DAYS.normalize().tz_localize(None))
    BarStore(cfg.arctic_uri, "market_data").merge("SPY.1d", bars)


@pytest.fixture
def home() -> Iterator[Path]:
    """60 weekdays of strategy `alpha` trading SPY in and out, sampled once a day after the
    close (as the broker samples its books), and SPY's daily bars in market_data."""
    path = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    try:
        cfg = config.init_home(path)
        store = LedgerStore(cfg.state_dir / "ledger", cfg.arctic_uri)
        ledger = Ledger()
        for d, day in enumerate(DAYS):
            if d % 5 in (0, 3):
                n = d + 1
                e = Execution(f"0000e0f1.{n:08x}.01.01", 100 + n, n, 11, f"ats:alpha:{n}",
                              "DU1", 756733, "SPY", "STK", "USD", 1.0,
                              "BOT" if d % 5 == 0 else "SLD", 100, float(SPY[d]),
                              (day + pd.Timedelta(hours=15)).to_pydatetime())
                c = CommissionReport(e.exec_id, 1.25, "USD", None)
                store.record_execution(e)
                ledger.apply_execution(e)
                store.record_commission(c)
                ledger.apply_commission(c)
            ledger.mark({756733: float(SPY[d])})
            ledger.sample_equity((day + pd.Timedelta(hours=21)).to_pydatetime())
        store.write_equity(ledger.drain_equity())
        store.flush_to_arctic()
        store.close(flush=False)
        store_spy(cfg)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(home: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"ATS_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result


def independent(out: Path, bench: pd.Series) -> dict[str, float]:
    """The documented conventions applied with pandas and numpy to equity.csv alone."""
    eq = pd.read_csv(out / "equity.csv")
    eq.index = pd.to_datetime(eq["timestamp"], utc=True, format="ISO8601")
    day = eq.index.floor("D")
    daily = eq["equity"].groupby(day).last()
    daily = daily[daily.index.dayofweek < 5]
    if (day == day[0]).sum() > 1:  # the first sample starts the curve, a day earlier
        daily = pd.concat([pd.Series([eq["equity"].iloc[0]], index=[day[0] - pd.Timedelta(
            days=1)]), daily])
    r = daily.to_numpy()[1:] / daily.to_numpy()[:-1] - 1
    total = daily.iloc[-1] / daily.iloc[0] - 1
    cagr = (1 + total) ** (252 / len(r)) - 1
    mdd = float(np.min(daily / daily.cummax() - 1))
    b = bench.reindex(daily.index.union(bench.index)).ffill().reindex(daily.index).to_numpy()
    rb = b[1:] / b[:-1] - 1
    both = np.isfinite(rb)  # no benchmark bar at or before the first point: that pair is out
    rs, rb = r[both], rb[both]
    cov = np.mean((rb - rb.mean()) * (rs - rs.mean()))
    return {"total_return": total, "cagr": cagr,
            "volatility": r.std(ddof=1) * math.sqrt(252),
            "sharpe": r.mean() / r.std(ddof=1) * math.sqrt(252),
            "sortino": r.mean() * 252 / (math.sqrt(np.mean(np.minimum(r, 0) ** 2))
                                         * math.sqrt(252)),
            "max_drawdown": mdd, "calmar": cagr / abs(mdd),
            "beta": cov / np.var(rb), "correlation": float(np.corrcoef(rs, rb)[0, 1])}


def test_report_writes_the_four_files_and_metrics_agree_with_equity_csv(home: Path) -> None:
    out = home / "rep"
    result = run(home, "report", "--out", str(out), "--capital", "100000", "--no-fetch")
    assert "report: measuring the account" in result.stderr  # progress on stderr
    assert {p.name for p in out.iterdir()} == FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= KEYS
    assert metrics["periods_per_year"] == 252 and metrics["risk_free"] == 0
    assert metrics["frequency"] == "daily" and metrics["returns"] == "simple"
    assert metrics["capital_base"] == 100000 and metrics["max_drawdown"] < 0
    assert set(metrics["periods"]) == {"today", "mtd", "ytd", "inception", "rolling_30d",
                                       "rolling_90d"}
    assert set(metrics["strategies"]) == {"alpha"}
    expected = independent(out, pd.Series(SPY, index=DAYS.normalize()))
    for key in ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
                "calmar"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-9), key
    bench = metrics["benchmark"]
    assert bench["symbol"] == "SPY" and bench["available"] is True
    assert bench["beta"] == pytest.approx(expected["beta"], rel=1e-9)
    assert bench["correlation"] == pytest.approx(expected["correlation"], rel=1e-9)
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == 24 and trades["commission"].sum() == pytest.approx(30.0)
    assert metrics["commissions"] == pytest.approx(30.0)
    assert metrics["trades"] == 12  # every sell closed what the buy before it opened
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 5  # every chart inline: nothing to fetch
    assert not [tag for tag in ('src="http', 'href="http', "<link", "<script", "url(http")
                if tag in html]


def test_a_strategys_report_is_measured_on_its_capital_base(home: Path) -> None:
    out = home / "alpha"
    run(home, "report", "alpha", "--out", str(out), "--capital", "200000", "--no-fetch",
        "--benchmark", "QQQ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["name"] == "alpha" and metrics["capital_base"] == 200000
    assert "target weight 0" in metrics["capital_base_rule"]
    assert metrics["benchmark"] == {"symbol": "QQQ", "available": False,
                                    "reason": metrics["benchmark"]["reason"]}
    assert "QQQ" in metrics["benchmark"]["reason"]
    eq = pd.read_csv(out / "equity.csv")
    assert eq["equity"].iloc[0] == 200000  # the start: the base, then less the first fee
    assert eq["equity"].iloc[1] == pytest.approx(200000 - 1.25)


def test_report_of_an_unknown_strategy_exits_4(home: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "nope", "--out", str(home / "x"),
                                      "--no-fetch"], env={"ATS_HOME": str(home)})
    assert result.exit_code == 4 and "unknown strategy 'nope'" in result.output


def test_backtest_report_sizes_with_weight_and_capital_and_pays_venue_commissions(
        home: Path) -> None:
    out = home / "bt"
    result = run(home, "backtest", "example", "--param", "bar_size=1d", "--param", "fast=2",
                 "--param", "slow=5", "--weight", "0.5", "--capital", "100000",
                 "--report", str(out), "--no-fetch", "--json")
    summary = json.loads(result.stdout)
    assert summary["weight"] == 0.5 and summary["capital"] == 100000
    assert {p.name for p in out.iterdir()} == FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= KEYS
    assert metrics["capital_base"] == 50000
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == summary["fills"] > 0
    # 10 shares an order: the simulator's per-order minimum, not 10 x 0.0035
    assert (trades["commission"] == US_MIN_PER_ORDER).all()
    assert trades["realized_pnl"].notna().any()
    eq = pd.read_csv(out / "equity.csv")
    assert eq["equity"].iloc[-1] == pytest.approx(
        50000 + summary["final_equity"] - 100000)
    expected = independent(out, pd.Series(SPY, index=DAYS.normalize()))
    for key in ("total_return", "volatility", "sharpe", "max_drawdown"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-9), key
    assert metrics["benchmark"]["beta"] == pytest.approx(expected["beta"], rel=1e-9)


def test_a_report_on_a_short_record_shows_no_annualised_figure_in_its_tiles(home: Path) -> None:
    out = home / "short"
    run(home, "report", "--out", str(out), "--capital", "100000", "--no-fetch",
        "--since", DAYS[-6].strftime("%Y-%m-%d"))
    tiles = (out / "report.html").read_text().split('<div class="tiles">')[1].split("</div></div>")
    by_name = {t.rsplit('<div class="k">', 1)[-1]: t for t in tiles if '<div class="k">' in t}
    for name in ("CAGR", "Volatility", "Sharpe", "Sortino", "Calmar"):
        assert "short record" in by_name[name], name
    assert "short record" not in by_name["Total return"]
    assert "need at least 20" in (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text())["n_returns"] < 20
    periods = (out / "report.html").read_text().split("<h2>Periods</h2>")[1].split("</table>")[0]
    today = periods.split("<td>Today</td>")[1].split("</tr>")[0]
    assert today.count("short record") == 2  # its volatility and Sharpe
