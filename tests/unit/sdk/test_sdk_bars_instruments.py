import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.sdk import BarSpec, BarWindow, Future, Index, Stock, days_to_expiry, from_key
from ats.sdk.testkit import daily_bars, trading_days


def test_instrument_keys_are_stable_and_reversible():
    assert Stock("SPY").key == "SPY.STK"
    assert Index("VIX").key == "VIX.IND"
    fut = Future("VXM", "20240117")
    assert fut.key == "VXM.FUT.20240117" and fut.multiplier == 100.0
    assert Future("VX", "20240117").multiplier == 1000.0
    for inst in (Stock("SPY"), Index("VIX"), fut):
        assert from_key(inst.key) == inst
    assert not Index("VIX").tradable


def test_days_to_expiry_counts_calendar_days():
    fut = Future("VXM", "20240117")
    assert days_to_expiry(fut, pd.Timestamp("2024-01-12 21:00", tz="UTC")) == 5
    assert days_to_expiry(fut, pd.Timestamp("2024-01-17 15:00", tz="UTC")) == 0


def test_barspec_rejects_unknown_bar_size():
    with pytest.raises(ValueError):
        BarSpec(Stock("SPY"), "2min")


def test_window_keeps_the_last_n_bars_in_order():
    w = BarWindow(3)
    for i in range(10):
        w.append(i, i, i, i, float(i), 1.0)
    assert list(w.closes()) == [7.0, 8.0, 9.0]
    assert len(w) == 3
    assert list(w.frame()["close"]) == [7.0, 8.0, 9.0]


def test_window_replaces_a_bar_with_the_same_time_and_drops_older_ones():
    w = BarWindow(5)
    w.append(1, 1, 1, 1, 1.0, 1)
    w.append(2, 1, 1, 1, 2.0, 1)
    w.append(2, 1, 1, 1, 2.5, 1)
    w.append(1, 1, 1, 1, 9.0, 1)
    assert list(w.closes()) == [1.0, 2.5]


def test_window_views_are_read_only():
    w = BarWindow(3)
    w.append(1, 1, 1, 1, 1.0, 1)
    with pytest.raises(ValueError):
        w.closes()[0] = 5.0


def test_window_extend_from_history_frame():
    df = daily_bars(np.arange(1.0, 11.0))
    w = BarWindow(4)
    w.extend(df)
    assert list(w.closes()) == [7.0, 8.0, 9.0, 10.0]
    assert w.last_time() == df.index[-1]


def test_trading_days_follow_the_exchange_calendar():
    days = trading_days("2024-12-23", 5)
    assert [d.day for d in days] == [23, 24, 26, 27, 30]



@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 8), closes=st.lists(st.floats(0.01, 1e6), max_size=60))
def test_window_always_equals_the_tail_of_everything_appended(size, closes):
    w = BarWindow(size)
    for i, c in enumerate(closes):
        w.append(i, c, c, c, c, 1.0)
    expected = closes[-size:] if closes else []
    assert list(w.closes()) == expected
    assert list(w.frame()["close"]) == expected
