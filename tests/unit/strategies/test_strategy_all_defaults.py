"""Every shipped strategy runs with its default params over a synthetic universe."""

import numpy as np
import pytest

from ats.sdk import Index, Stock, backtest
from ats.sdk.loader import BUILTIN, load_strategy
from ats.sdk.testkit import daily_bars, intraday_bars, monthly_futures, random_walk, trading_days

STOCKS = ("ACWI", "SPY", "QQQ", "IWM", "SVXY", "XLK", "XLF", "XLE", "XLV", "XLI", "XLY",
          "XLP", "XLU", "XLB", "XLRE", "XLC", "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META",
          "TSLA", "KO", "PEP", "XOM", "CVX")
N_DAYS = 420


@pytest.fixture(scope="module")
def daily_universe():
    idx = trading_days("2022-06-01", N_DAYS)
    bars = {}
    for i, sym in enumerate(STOCKS):
        drift = 0.0008 * (((i + 3) % 5) - 2)  # ACWI up; a mix of trends elsewhere
        bars[Stock(sym)] = daily_bars(random_walk(N_DAYS, 100.0, 0.015, seed=i, drift=drift),
                                      index=idx)
    vix = 16 + 4 * np.sin(np.arange(N_DAYS) / 15.0)
    bars[Index("VIX")] = daily_bars(vix, index=idx)
    bars[Index("VIX3M")] = daily_bars(np.full(N_DAYS, 19.0), index=idx)
    bars[Index("SPX")] = daily_bars(random_walk(N_DAYS, 4000.0, 0.006, seed=99), index=idx)
    bars[Index("PCR")] = daily_bars(0.7 + 0.25 * np.sin(np.arange(N_DAYS) / 9.0), index=idx)
    bars.update(monthly_futures("VXM", idx, vix, slope=0.05))
    return bars


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(set(BUILTIN) - {"vow", "example"}))
def test_daily_strategy_runs_with_defaults_and_places_orders(name, daily_universe):
    cls = load_strategy(name)
    r = backtest.run(cls, None, daily_universe, cash=1_000_000.0)
    assert len(r.equity) == N_DAYS
    assert not r.fills.empty, f"{name} placed no orders in {N_DAYS} days"
    assert np.isfinite(r.equity).all()
    state = r.strategy.save_state()
    assert state["strategy"] == cls.__name__.lower()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "minutes"), [("vow", 5), ("example", 1)])
def test_intraday_strategy_runs_with_defaults(name, minutes):
    n = 78 * 5 if minutes == 5 else 390 * 2
    closes = random_walk(n, 100.0, 0.002, seed=3)
    vol = np.where(np.arange(n) % 17 == 0, 60_000.0, 10_000.0)
    r = backtest.run(load_strategy(name), None,
                     {Stock("SPY"): intraday_bars(closes, minutes=minutes, volume=vol)})
    assert not r.fills.empty
