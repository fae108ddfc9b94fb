import numpy as np
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.cnr import Cnr, CnrParams, cnr_targets


def test_targets_buy_losers_and_short_winners():
    rets = {"A": -0.05, "B": -0.01, "C": 0.0, "D": 0.02, "E": 0.06, "F": float("nan")}
    t = cnr_targets(rets, 2, 1, 0.1)
    assert t == {"A": 0.1, "B": 0.1, "C": 0.0, "D": 0.0, "E": -0.1, "F": 0.0}


def test_weekly_rebalance_places_long_and_short_orders():
    n = 30
    base = np.full(n, 100.0)
    drifts = {"AAA": -0.01, "BBB": 0.0, "CCC": 0.01}
    bars = {Stock(s): daily_bars(base * (1 + d) ** np.arange(n)) for s, d in drifts.items()}
    p = CnrParams(symbols=tuple(drifts), n_long=1, n_short=1, exposure_per_name=0.1)
    r = backtest.run(Cnr, p, bars, cash=100_000.0)
    f = r.fills
    first_week = f[f["time"] == f["time"].iloc[0]].set_index("instrument")["quantity"]
    assert first_week["AAA.STK"] > 0 > first_week["CCC.STK"]
    assert "BBB.STK" not in first_week
    value = first_week["AAA.STK"] * bars[Stock("AAA")]["close"].iloc[4]
    assert value == pytest.approx(10_000, rel=0.1)
    # one rebalance a week: decided on the week's first session, filled at the next open
    days_per_week: dict[tuple[int, int], set[str]] = {}
    for t in f["time"]:
        iso = t.isocalendar()
        days_per_week.setdefault((iso.year, iso.week), set()).add(t.date().isoformat())
    assert all(len(d) == 1 for d in days_per_week.values())


def test_positions_flip_when_losers_become_winners():
    n = 40
    t = np.arange(n)
    up = 100 * 1.01 ** t
    down_then_up = np.where(t < 20, 100 * 0.99 ** t, 100 * 0.99**19 * 1.03 ** (t - 19))
    bars = {Stock("AAA"): daily_bars(down_then_up), Stock("BBB"): daily_bars(100 * 1.02**t),
            Stock("CCC"): daily_bars(up)}
    p = CnrParams(symbols=("AAA", "BBB", "CCC"), n_long=1, n_short=1)
    r = backtest.run(Cnr, p, bars, cash=100_000.0)
    pos = r.context.positions()
    # weekly returns at the end: AAA +3%/day (winner), BBB +2%, CCC +1% (loser)
    assert pos["AAA.STK"] < 0 < pos["CCC.STK"]
    assert "BBB.STK" not in pos
    first = r.fills[r.fills["time"] == r.fills["time"].iloc[0]].set_index("instrument")
    assert first.loc["AAA.STK", "quantity"] > 0  # AAA started as the loser
