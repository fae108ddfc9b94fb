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
from ats.sdk.bars import COLUMNS, SLACK, make_bars
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


@pytest.mark.parametrize("size", [1, 3, SLACK + 7])
def test_a_window_compacted_again_and_again_holds_the_tail_of_what_was_appended(
        size: int) -> None:
    """Appends past the arrays' end, several times over (SLACK bars beyond the window, at
    least), with a bar replaced and a history frame extended in between."""
    w = BarWindow(size)
    rows: dict[int, tuple[float, ...]] = {}
    t = 0
    for _ in range(4 * (size + SLACK)):
        t += 1
        row = (t + 0.5, t + 1.0, t - 1.0, float(t), 10.0 * t)
        w.append(t, *row)
        rows[t] = row
        if t % 97 == 0:  # the newest bar replaced
            row = (t + 0.25, t + 2.0, t - 2.0, t + 0.75, 1.0)
            w.append(t, *row)
            rows[t] = row
        if t % 211 == 0:  # a history frame of newer bars
            new = range(t + 1, t + 6)
            df = pd.DataFrame([(s + 0.5, s + 1.0, s - 1.0, float(s), 10.0 * s) for s in new],
                              columns=list(COLUMNS),
                              index=pd.to_datetime(list(new), utc=True))
            w.extend(df)
            rows.update({s: (s + 0.5, s + 1.0, s - 1.0, float(s), 10.0 * s) for s in new})
            t += 5
    tail = sorted(rows)[-size:]
    assert list(w.times().asi8) == tail
    for j, name in enumerate(COLUMNS):
        assert list(w.column(name)) == [rows[s][j] for s in tail]
    assert w.last_ns() == tail[-1] and len(w) == size
