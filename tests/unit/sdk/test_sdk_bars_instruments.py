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


def _state(w: BarWindow) -> tuple[list[int], list[list[float]]]:
    return list(w.times().asi8), [list(w.column(c)) for c in ("open", "high", "low", "close",
                                                              "volume")]


@settings(max_examples=80, deadline=None)
@given(size=st.integers(1, 6),
       held=st.lists(st.integers(0, 30), max_size=8),
       rows=st.lists(st.tuples(st.integers(0, 30), st.one_of(st.just(float("nan")),
                                                             st.floats(0.01, 1e6))),
                     max_size=40),
       in_order=st.booleans())
def test_window_extend_keeps_what_appending_each_bar_in_turn_keeps(size, held, rows, in_order):
    """In order or not, repeated or missing bars, and bars older than the window's, alike."""
    if in_order:
        rows = sorted(dict(rows).items())
    one_by_one, extended = BarWindow(size), BarWindow(size)
    for w in (one_by_one, extended):
        for t in held:
            w.append(t, 1.0, 2.0, 0.5, float(t), 3.0)
    for i, (t, c) in enumerate(rows):
        if c == c:  # a NaN close is a missing bar, skipped
            one_by_one.append(t, c + 1, c + 2, c - 0.005, c, float(i))
    df = pd.DataFrame({"open": [c + 1 for _, c in rows], "high": [c + 2 for _, c in rows],
                       "low": [c - 0.005 for _, c in rows], "close": [c for _, c in rows],
                       "volume": [float(i) for i in range(len(rows))]},
                      index=pd.to_datetime([t for t, _ in rows], utc=True))
    extended.extend(df)
    assert _state(extended) == _state(one_by_one)


def test_window_extend_reads_columns_by_name_in_any_order_and_zero_fills_a_missing_one():
    df = daily_bars(np.arange(1.0, 11.0))
    usual, shuffled = BarWindow(4), BarWindow(4)
    usual.extend(df)
    shuffled.extend(df[["volume", "close", "low", "high", "open"]].assign(wap=1.0))
    assert _state(shuffled) == _state(usual)
    no_volume = BarWindow(4)
    no_volume.extend(df.drop(columns="volume"))
    assert list(no_volume.column("volume")) == [0.0] * 4
    assert list(no_volume.closes()) == [7.0, 8.0, 9.0, 10.0]
