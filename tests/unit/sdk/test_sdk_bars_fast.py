"""What the replay's fast paths rely on in ats.sdk.bars: `make_bars` makes the Bars `Bar(...)`
makes, and a BarWindow counts its changes, knows its newest time and hands out read-only
views of every column however often it has been compacted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.sdk import Bar, BarWindow
from ats.sdk.bars import COLUMNS, make_bars
from ats.sdk.testkit import daily_bars


def test_make_bars_makes_the_bars_the_constructor_makes() -> None:
    times = list(pd.date_range("2024-03-04 14:30", periods=3, freq="min", tz="UTC"))
    cols = ([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], [0.5, 1.5, 2.5], [1.2, 2.2, 3.2], [10.0, 0.0, 7.0])
    made = make_bars(["SPY.STK", "QQQ.STK", "SPY.STK"], times, *cols)
    want = [Bar(k, t, *vals) for k, t, *vals in zip(["SPY.STK", "QQQ.STK", "SPY.STK"], times,
                                                     *cols, strict=True)]
    assert made == want
    assert [hash(b) for b in made] == [hash(b) for b in want]
    assert all(type(b) is Bar for b in made)
    with pytest.raises(AttributeError):
        made[0].close = 5.0  # type: ignore[misc]


def test_make_bars_refuses_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        make_bars(["SPY.STK"], [pd.Timestamp(0, tz="UTC")], [1.0], [1.0], [1.0], [1.0], [])


def test_changes_count_every_change_and_no_bar_dropped() -> None:
    w = BarWindow(3)
    assert w.changes == 0 and w.last_ns() is None
    w.append(10, 1, 1, 1, 1.0, 1)
    w.append(20, 1, 1, 1, 2.0, 1)
    assert w.changes == 2 and w.last_ns() == 20
    w.append(20, 1, 1, 1, 2.5, 1)  # replaces the newest bar: a change
    assert w.changes == 3 and list(w.closes()) == [1.0, 2.5]
    w.append(15, 1, 1, 1, 9.0, 1)  # older than the newest: dropped, no change
    assert w.changes == 3 and w.last_ns() == 20
    w.extend(daily_bars([5.0, 6.0]))
    assert w.changes == 4 and w.last_ns() == daily_bars([5.0, 6.0]).index[-1].value


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 6), n=st.integers(0, 40))
def test_every_column_view_is_read_only_and_the_tail_of_what_was_appended(size: int,
                                                                          n: int) -> None:
    w = BarWindow(size)
    rows = [(float(i), i + 0.5, i - 0.5, i + 0.25, 100.0 + i) for i in range(n)]
    for i, row in enumerate(rows):
        w.append(1_000 + i, *row)
    tail = rows[-size:] if rows else []
    for j, name in enumerate(COLUMNS):
        col = w.column(name)
        assert list(col) == [r[j] for r in tail]
        assert not col.flags.writeable
        if len(col):
            with pytest.raises(ValueError):
                col[0] = -1.0
    assert np.array_equal(w.closes(), w.column("close"))
    assert w.last_ns() == (1_000 + n - 1 if n else None)
