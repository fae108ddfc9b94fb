"""A strategy killed and restarted trades as if it had never stopped.

Each shipped strategy is replayed twice over the same bars: once without interruption, and once
replaced every few bars by a new instance built the way the live host builds a restarted one
(warm-up from history, the last saved state, start, reconcile with the broker's book). The
fills must be the same, bar for bar: what a strategy needs to manage a position it holds is in
its saved state or in the book.
"""

import numpy as np
import pandas as pd
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.loader import BUILTIN, load_strategy
from ats.sdk.testkit import intraday_bars, random_walk

DAILY = sorted(set(BUILTIN) - {"vow", "example"})


def _fills(r: backtest.BacktestResult) -> pd.DataFrame:
    return r.fills.drop(columns=["local_id"]).reset_index(drop=True)


def _holding_times(r: backtest.BacktestResult, every: int) -> list[pd.Timestamp]:
    """Every `every`-th bar time after the first fill; at least one falls while a position
    is held (a restart with nothing to manage would prove little)."""
    first = r.fills["time"].min()
    times = list(r.equity.index[r.equity.index > first][::every])
    held = r.fills.groupby("instrument")
    holding = [t for t in times
               if any(abs(g.loc[g["time"] < t, "quantity"].sum()) > 1e-9 for _, g in held)]
    assert holding, "no restart falls while the strategy holds a position"
    return times


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", DAILY)
def test_daily_strategy_restarted_every_few_bars_fills_as_if_never_stopped(name, daily_universe):
    cls = load_strategy(name)
    whole = backtest.run(cls, None, daily_universe, cash=1_000_000.0)
    assert not whole.fills.empty
    restarts = _holding_times(whole, every=7)
    restarted = backtest.run(cls, None, daily_universe, cash=1_000_000.0, restart_at=restarts)
    pd.testing.assert_frame_equal(_fills(restarted), _fills(whole))
    np.testing.assert_allclose(restarted.equity.to_numpy(), whole.equity.to_numpy())


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "minutes"), [("vow", 5), ("example", 1)])
def test_intraday_strategy_restarted_every_few_bars_fills_as_if_never_stopped(name, minutes):
    n = 78 * 5 if minutes == 5 else 390 * 2
    closes = random_walk(n, 100.0, 0.002, seed=3)
    vol = np.where(np.arange(n) % 17 == 0, 60_000.0, 10_000.0)
    bars = {Stock("SPY"): intraday_bars(closes, minutes=minutes, volume=vol)}
    whole = backtest.run(load_strategy(name), None, bars)
    assert not whole.fills.empty
    restarts = _holding_times(whole, every=5)
    restarted = backtest.run(load_strategy(name), None, bars, restart_at=restarts)
    pd.testing.assert_frame_equal(_fills(restarted), _fills(whole))


@pytest.mark.parametrize(("name", "remembered"), [
    ("vow", {"entries": {"TSLA.STK": [1, 100.0]}}),
    ("short_rsi_thrust", {"held": {"TSLA": [100.0, 2]}}),
])
def test_a_position_without_a_record_of_its_entry_is_closed_and_a_remembered_one_kept(
        name, remembered):
    from ats.sdk.backtest import BacktestContext

    for user, expect in [({}, [("TSLA.STK", 10.0)]), (remembered, [])]:
        ctx = BacktestContext(now=pd.Timestamp("2026-11-18T15:00:00Z"))
        ctx.set_position(Stock("TSLA"), -10.0)
        ctx.set_price("TSLA.STK", 100.0)
        s = load_strategy(name)(name, load_strategy(name).params_type(), ctx)
        s.load_state({"user": user, "book": {}})
        s.start()
        s.reconcile(ctx.positions())
        orders = [(h.request.instrument.key, h.request.quantity) for h in s.open_orders()]
        assert orders == expect, user
