"""The report's metrics against an independent numpy computation on fixed data, so that a
change of convention (periods per year, risk-free rate, simple or log returns, drawdown sign,
the weekend rule) fails here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ats.report import build, inputs
from ats.report import metrics as m

#: 30 fixed daily returns of a strategy and of its benchmark (Jan-Feb 2026, weekdays).
R = np.array([0.010, -0.004, 0.007, -0.012, 0.003, 0.015, -0.006, 0.002, -0.009, 0.011,
              0.004, -0.002, 0.006, -0.015, 0.008, 0.001, -0.003, 0.012, -0.007, 0.005,
              0.009, -0.011, 0.002, 0.004, -0.001, 0.007, -0.005, 0.003, 0.010, -0.002])
B = np.array([0.008, -0.006, 0.004, -0.010, 0.001, 0.011, -0.002, 0.003, -0.007, 0.006,
              0.002, -0.004, 0.005, -0.012, 0.006, -0.001, -0.002, 0.009, -0.005, 0.004,
              0.006, -0.008, 0.001, 0.002, 0.000, 0.005, -0.004, 0.002, 0.007, -0.003])
DAYS = pd.bdate_range("2026-01-02", periods=len(R) + 1, tz="UTC")


def curve(returns: np.ndarray, start: float = 1000.0) -> pd.Series:
    return pd.Series(start * np.concatenate([[1.0], np.cumprod(1 + returns)]), index=DAYS)


# ---- the independent computation: plain numpy, the formulas of the module docstring -------

def np_sharpe(r: np.ndarray, rf: float, ppy: float) -> float:
    ex = r - rf
    return float(ex.mean() / ex.std(ddof=1) * math.sqrt(ppy))


def np_sortino(r: np.ndarray, rf: float, ppy: float) -> float:
    ex = r - rf
    downside = math.sqrt(float(np.mean(np.minimum(ex, 0.0) ** 2))) * math.sqrt(ppy)
    return float(ex.mean() * ppy / downside)


def np_max_drawdown(equity: np.ndarray) -> float:
    return float(np.min(equity / np.maximum.accumulate(equity) - 1.0))


def test_return_and_risk_figures_match_numpy_at_252_days_and_no_risk_free_rate() -> None:
    eq = curve(R)
    conv = m.Conventions("daily", 0.0)
    got = m.performance(m.resample(eq, "daily"), conv)
    total = float(np.prod(1 + R) - 1)
    cagr = (1 + total) ** (252 / len(R)) - 1
    mdd = np_max_drawdown(eq.to_numpy())
    assert conv.periods_per_year == 252
    assert got["total_return"] == pytest.approx(total, rel=1e-12)
    assert got["cagr"] == pytest.approx(cagr, rel=1e-10)
    assert got["volatility"] == pytest.approx(R.std(ddof=1) * math.sqrt(252), rel=1e-10)
    assert got["sharpe"] == pytest.approx(np_sharpe(R, 0.0, 252), rel=1e-10)
    assert got["sortino"] == pytest.approx(np_sortino(R, 0.0, 252), rel=1e-10)
    assert got["max_drawdown"] == pytest.approx(mdd, rel=1e-10) and mdd < 0
    assert got["calmar"] == pytest.approx(cagr / abs(mdd), rel=1e-10)


def test_an_annual_risk_free_rate_is_taken_per_period_for_sharpe_and_sortino() -> None:
    conv = m.Conventions("daily", 0.05)
    got = m.performance(curve(R), conv)
    assert got["sharpe"] == pytest.approx(np_sharpe(R, 0.05 / 252, 252), rel=1e-10)
    assert got["sortino"] == pytest.approx(np_sortino(R, 0.05 / 252, 252), rel=1e-10)
    assert got["sharpe"] < m.performance(curve(R), m.Conventions("daily"))["sharpe"]


def test_returns_are_simple_not_log() -> None:
    r = m.returns(curve(R))
    np.testing.assert_allclose(r.to_numpy(), R, rtol=1e-12)


def test_benchmark_figures_match_numpy() -> None:
    conv = m.Conventions("daily", 0.02)
    rf = 0.02 / 252
    got = m.relative(curve(R), curve(B, 400.0), conv)
    x, y = B - rf, R - rf
    beta = float(np.mean((x - x.mean()) * (y - y.mean())) / np.mean((x - x.mean()) ** 2))
    alpha = (1 + float(np.mean(y - beta * x))) ** 252 - 1
    active = R - B
    assert got["beta"] == pytest.approx(beta, rel=1e-10)
    assert got["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert got["correlation"] == pytest.approx(float(np.corrcoef(R, B)[0, 1]), rel=1e-10)
    assert got["tracking_error"] == pytest.approx(active.std(ddof=1) * math.sqrt(252),
                                                  rel=1e-10)
    assert got["information_ratio"] == pytest.approx(
        active.mean() / active.std(ddof=1) * math.sqrt(252), rel=1e-10)


def test_daily_points_are_the_first_sample_then_the_last_of_each_weekday() -> None:
    ts = pd.DatetimeIndex(["2026-01-02 15:00", "2026-01-02 20:00", "2026-01-03 12:00",
                           "2026-01-05 14:00", "2026-01-05 21:00"], tz="UTC")
    eq = pd.Series([100.0, 101.0, 150.0, 102.0, 103.0], index=ts)
    points = m.resample(eq, "daily")  # Saturday the 3rd is dropped
    # the first sample is the start, a day before the first day's last sample
    assert points.tolist() == [100.0, 101.0, 103.0]
    assert [d.day for d in points.index] == [1, 2, 5]


def test_intraday_frequencies_annualise_by_the_clock() -> None:
    assert m.PERIODS_PER_YEAR["hourly"] == pytest.approx(365.25 * 24)
    assert m.PERIODS_PER_YEAR["minute"] == pytest.approx(365.25 * 24 * 60)
    minutes = pd.date_range("2026-11-18 14:30", periods=10, freq="20s", tz="UTC")
    assert m.choose_frequency(pd.Series(np.linspace(1, 2, 10), index=minutes)) == "minute"
    assert m.choose_frequency(curve(R)) == "daily"


def test_drawdown_duration_runs_from_the_peak_to_the_recovery_or_the_end() -> None:
    idx = pd.date_range("2026-01-01", periods=7, freq="D", tz="UTC")
    recovered = pd.Series([100, 110, 100, 105, 111, 108, 109.0], index=idx)
    # peak on the 2nd, back above it on the 5th: 3 days; then under since the 5th: 2 days
    assert m.max_drawdown_duration_days(recovered) == 3.0
    rising = pd.Series(np.arange(7, dtype=float) + 1, index=idx)
    assert m.max_drawdown_duration_days(rising) == 0.0


def test_trade_statistics_count_the_fills_that_realized_pnl() -> None:
    fills = pd.DataFrame({"realized_pnl": [None, 30.0, 0.0, -10.0, 20.0, -5.0]})
    got = m.trade_stats(fills)
    assert got["trades"] == 4
    assert got["hit_rate"] == 0.5
    assert got["average_win"] == 25.0 and got["average_loss"] == -7.5
    assert got["profit_factor"] == pytest.approx(50.0 / 15.0)


def test_a_strategy_is_measured_on_its_share_of_the_accounts_capital() -> None:
    base, rule = inputs.strategy_base(0.25, 1_000_000.0)
    assert base == 250_000.0 and "target weight 0.25" in rule
    assert inputs.strategy_base(0.0, 1_000_000.0)[0] == 1_000_000.0
    ts = pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC")
    samples = inputs.samples_frame([
        {"ts": ts[0].isoformat(), "strategy": "a", "equity": 0.0, "market_value": 0.0},
        {"ts": ts[1].isoformat(), "strategy": "a", "equity": 500.0, "market_value": 9e4},
        {"ts": ts[1].isoformat(), "strategy": "b", "equity": -100.0, "market_value": 0.0},
        {"ts": ts[2].isoformat(), "strategy": "a", "equity": 2500.0, "market_value": 9e4}])
    book = inputs.live_book("a", samples, inputs.fills_frame([]), base, rule)
    # starts at the base, just before the first sample
    assert book.equity.tolist() == [250_000.0, 250_000.0, 250_500.0, 252_500.0]
    assert book.equity.index[0] == ts[0] - pd.Timedelta(1, "us")
    account = inputs.live_book(inputs.ACCOUNT, samples, inputs.fills_frame([]), 1e6, "x")
    # b was not sampled at ts[0] (counts 0) nor at ts[2] (keeps its last value)
    assert account.equity.tolist() == [1e6, 1e6, 1e6 + 400.0, 1e6 + 2400.0]


def test_periods_start_from_the_last_point_before_them() -> None:
    eq = curve(R)
    book = inputs.Book("s", eq, 1000.0, "test", inputs.fills_frame([]),
                       eq * 0.0, eq * 0.0)
    rep = build.build(book, None)
    periods = rep.metrics["periods"]
    assert periods["today"]["total_return"] == pytest.approx(R[-1])
    feb = eq[eq.index >= pd.Timestamp("2026-02-01", tz="UTC")]
    jan_close = eq[eq.index < pd.Timestamp("2026-02-01", tz="UTC")].iloc[-1]
    assert periods["mtd"]["total_return"] == pytest.approx(feb.iloc[-1] / jan_close - 1)
    assert periods["inception"]["total_return"] == pytest.approx(rep.metrics["total_return"])
    assert "cagr" not in periods["mtd"]  # part of a year is not annualised
    assert rep.metrics["benchmark"]["available"] is False


def test_hourly_points_take_the_benchmark_bar_of_the_same_hour() -> None:
    samples = pd.date_range("2026-11-18 14:05", periods=6 * 30, freq="10min", tz="UTC")
    rng = np.random.default_rng(3)
    price = 100 * np.cumprod(1 + rng.normal(0, 0.001, len(samples)))
    equity = pd.Series(1e6 * (1 + 0.5 * (price / price[0] - 1)), index=samples)
    # hourly bars indexed by their start; the close is the last price of the hour
    closes = pd.Series(price, index=samples).groupby(samples.floor("h")).last()
    conv = m.Conventions("hourly")
    points = m.resample(equity, "hourly")
    bench = build.bench_at(points, closes, conv)
    assert bench is not None
    hours = points.index[1:]  # after the starting point (the first sample)
    np.testing.assert_allclose(bench.reindex(hours).to_numpy(), closes.reindex(hours))
    got = m.relative(points, bench, conv)
    # about half the benchmark's moves (exactly half of its move since the start)
    assert got["beta"] == pytest.approx(0.5, rel=1e-2)
    assert got["correlation"] == pytest.approx(1.0, abs=1e-4)
    assert conv.periods_per_year == pytest.approx(8766.0)
