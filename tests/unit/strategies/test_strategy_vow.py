import numpy as np
import pandas as pd
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.schedule import sessions
from ats.sdk.testkit import intraday_bars, random_walk
from strategies.vow import Vow, VowParams, session_vwap, vow_entry, vow_exit

SPY = Stock("SPY")
P = VowParams(dev_pct=0.004, vol_mult=1.5, vol_window=5, stop_pct=0.01)


def test_session_vwap_weights_by_volume_and_resets_each_day():
    h = lo = c = np.array([10.0, 20.0, 30.0, 40.0])
    v = np.array([1.0, 3.0, 1.0, 1.0])
    day = np.array([1, 1, 2, 2])
    assert session_vwap(h, lo, c, v, day).tolist() == [10.0, 17.5, 30.0, 35.0]


def test_entry_needs_volume_confirmation_and_a_deviation():
    assert vow_entry(99.0, 100.0, 2000, 1000, P) == 1  # reversion: buy below VWAP
    assert vow_entry(101.0, 100.0, 2000, 1000, P) == -1
    assert vow_entry(99.0, 100.0, 1000, 1000, P) == 0  # volume not confirmed
    assert vow_entry(99.9, 100.0, 2000, 1000, P) == 0  # too close to VWAP
    breakout = VowParams(mode="breakout", allow_short=False)
    assert vow_entry(101.0, 100.0, 2000, 1000, breakout) == 1
    assert vow_entry(99.0, 100.0, 2000, 1000, breakout) == 0  # short not allowed


def test_exit_at_vwap_or_stop():
    assert vow_exit(1, 100.0, 100.0, 99.0, P) == "vwap"
    assert vow_exit(1, 99.5, 100.0, 99.0, P) is None
    assert vow_exit(1, 97.9, 100.0, 99.0, P) == "stop"
    assert vow_exit(-1, 100.5, 100.0, 101.0, P) is None


def dip_day():
    c = np.full(40, 100.0)
    vol = np.full(40, 10_000.0)
    c[20] = 99.0  # a dip on heavy volume
    vol[20] = 40_000.0
    c[21:24] = 99.2
    c[24:] = 100.2  # back above VWAP
    return intraday_bars(c, minutes=5, volume=vol)


def test_backtest_buys_the_volume_dip_and_exits_back_at_vwap():
    r = backtest.run(Vow, P, {SPY: dip_day()}, cash=100_000.0)
    q = r.fills["quantity"].tolist()
    assert q[0] > 0 and q[0] * r.fills["price"].iloc[0] == pytest.approx(20_000, rel=0.05)
    assert sum(q) == 0


def test_flattens_before_the_close():
    c = np.full(78, 100.0)  # one full session of 5-minute bars
    vol = np.full(78, 10_000.0)
    c[60:] = 99.0  # stays below VWAP: no VWAP exit
    vol[60] = 40_000.0
    r = backtest.run(Vow, VowParams(stop_pct=0.05, vol_window=5), {SPY: intraday_bars(
        c, minutes=5, volume=vol)}, cash=100_000.0, fill_at="close")
    assert r.fills["quantity"].tolist()[0] > 0
    assert r.context.position(SPY) == 0
    last = r.fills["time"].iloc[-1]
    assert (last.hour, last.minute) == (20, 50)  # 10 minutes before the 21:00 UTC close


def test_vow_trades_regular_hours_only_even_when_the_bars_run_around_the_clock():
    # Two days of 5-minute bars around the clock, volume spikes at every hour of it.
    idx = pd.date_range("2026-11-17T00:00Z", "2026-11-18T23:55Z", freq="5min")
    closes = random_walk(len(idx), 100.0, 0.003, seed=7)
    volume = np.where(np.arange(len(idx)) % 7 == 0, 80_000.0, 10_000.0)
    o = np.concatenate([[closes[0]], closes[:-1]])
    bars = pd.DataFrame({"open": o, "high": np.maximum(o, closes) * 1.0005,
                         "low": np.minimum(o, closes) * 0.9995, "close": closes,
                         "volume": volume}, index=idx)
    r = backtest.run(Vow, None, {Stock("SPY"): bars})
    assert not r.fills.empty
    times = pd.DatetimeIndex(r.fills["time"])
    assert sessions("XNYS").in_hours(times.asi8).all(), r.fills
