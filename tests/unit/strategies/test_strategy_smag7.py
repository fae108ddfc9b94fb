import numpy as np
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.smag7 import Smag7, Smag7Params, smag7_action, trailing_stop

P = Smag7Params(symbols=("AAPL", "MSFT"), sma_days=10, atr_days=5)


def test_defaults_are_the_originals():
    d = Smag7Params()
    assert d.sma_days == 50 and d.atr_days == 20 and d.atr_mult == 3.0
    assert d.exposure_per_name == -0.05 and len(d.symbols) == 7


def test_trailing_stop_is_lowest_close_plus_three_atr():
    assert trailing_stop(100.0, 2.0, 3.0) == 106.0


def test_actions():
    assert smag7_action(95, 100, short=False, armed=True, stop=None) == "enter"
    assert smag7_action(95, 100, short=False, armed=False, stop=None) == "wait"
    assert smag7_action(105, 100, short=False, armed=True, stop=None) == "wait"
    assert smag7_action(99, 100, short=True, armed=True, stop=98) == "stop"
    assert smag7_action(101, 100, short=True, armed=True, stop=110) == "exit"
    assert smag7_action(95, 100, short=True, armed=True, stop=110) == "hold"


def test_shorts_five_percent_below_the_average_and_holds_in_a_decline():
    n = 40
    down = np.r_[np.full(12, 100.0), np.linspace(100, 80, n - 12)]
    up = np.linspace(100, 130, n)
    bars = {Stock("AAPL"): daily_bars(down, spread=0.002),
            Stock("MSFT"): daily_bars(up, spread=0.002)}
    r = backtest.run(Smag7, P, bars, cash=100_000.0)
    f = r.fills
    assert set(f["instrument"]) == {"AAPL.STK"}
    entry = f.iloc[0]
    assert entry["quantity"] < 0
    assert abs(entry["quantity"] * entry["price"]) == pytest.approx(5_000, rel=0.05)
    assert len(f) == 1 and r.context.position(Stock("AAPL")) < 0


def test_trailing_stop_covers_a_spike_and_disarms_until_above_the_average():
    n = 40
    c = np.r_[np.full(12, 100.0), np.linspace(100, 50, n - 12)]
    c[30:] = c[29] + 6 - 1.85 * np.arange(n - 30)  # +6 spike (> 2 ATR), still below the SMA
    p = Smag7Params(symbols=("AAPL",), sma_days=10, atr_days=5, atr_mult=2.0)
    r = backtest.run(Smag7, p, {Stock("AAPL"): daily_bars(c, spread=0.002)}, cash=100_000.0)
    assert r.fills["quantity"].tolist() == [-50.0, 50.0]  # short, then covered once
    # the 15:45 callback sees the spike's close the next session; the cover fills a day later
    assert r.fills["time"].iloc[1] == r.equity.index[32]
    assert "AAPL" in r.strategy.disarmed  # no re-entry while the decline continues
