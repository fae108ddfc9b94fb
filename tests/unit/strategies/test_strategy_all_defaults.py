"""Every shipped strategy runs with its default params over a synthetic universe."""

import numpy as np
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.loader import BUILTIN, load_strategy
from ats.sdk.testkit import intraday_bars, random_walk


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(set(BUILTIN) - {"vow", "example"}))
def test_daily_strategy_runs_with_defaults_and_places_orders(name, daily_universe):
    cls = load_strategy(name)
    r = backtest.run(cls, None, daily_universe, cash=1_000_000.0)
    assert len(r.equity) == len(next(iter(daily_universe.values())))
    assert not r.fills.empty, f"{name} placed no orders"
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
