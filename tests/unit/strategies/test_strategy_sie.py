import math

import numpy as np
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.sie import Sie, SieParams, momentum_score, sie_selection


def test_momentum_blends_the_lookbacks():
    c = np.arange(1.0, 12.0)  # 11 closes
    assert momentum_score(c, (1, 5)) == pytest.approx(((11 / 10 - 1) + (11 / 6 - 1)) / 2)
    assert math.isnan(momentum_score(c, (20,)))


def test_selection_keeps_top_n_and_optional_absolute_filter():
    scores = {"XLK": 0.3, "XLE": -0.1, "XLF": 0.1, "XLU": float("nan")}
    assert sie_selection(scores, 2, False) == ["XLK", "XLF"]
    assert sie_selection(scores, 3, True) == ["XLK", "XLF"]


def test_monthly_rotation_into_the_strongest_sectors():
    n = 90
    drifts = {"XLK": 0.004, "XLF": 0.002, "XLE": -0.002, "XLU": 0.0}
    bars = {Stock(s): daily_bars(100 * (1 + d) ** np.arange(n)) for s, d in drifts.items()}
    p = SieParams(symbols=tuple(drifts), lookbacks=(10, 20, 40), top_n=2)
    r = backtest.run(Sie, p, bars, cash=100_000.0)
    assert set(r.fills["instrument"]) == {"XLK.STK", "XLF.STK"}
    assert (r.fills["quantity"].iloc[:2] > 0).all()
    first = r.fills.iloc[0]
    assert first["quantity"] * first["price"] == pytest.approx(50_000, rel=0.05)
    months = {t.strftime("%Y-%m") for t in r.fills["time"]}
    assert len(months) <= 3  # rebalanced monthly, not daily
