"""Bars built live from 5-second real-time bars, and which history bar is still forming."""

from __future__ import annotations

import pandas as pd

from ats.host.feed import BarAggregator, is_forming


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def test_minute_bar_is_emitted_with_its_last_five_second_bar() -> None:
    agg = BarAggregator("SPY.STK", "1min")
    assert agg.add(ts("2026-09-01 14:30:00"), 10, 11, 9, 10.5, 100) is None
    bar = agg.add(ts("2026-09-01 14:30:55"), 10.5, 12, 10, 11, 50)  # ends at 14:31:00
    assert bar is not None and bar.time == ts("2026-09-01 14:30:00")
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 12, 9, 11, 150)
    assert agg.add(ts("2026-09-01 14:31:00"), 11, 11, 11, 11, 10) is None


def test_minute_bar_whose_last_five_second_bar_is_missed_is_emitted_when_the_next_begins(
) -> None:
    agg = BarAggregator("SPY.STK", "1min")
    assert agg.add(ts("2026-09-01 14:30:00"), 10, 11, 9, 10.5, 100) is None
    assert agg.add(ts("2026-09-01 14:30:50"), 10.5, 12, 10, 11, 50) is None
    bar = agg.add(ts("2026-09-01 14:31:00"), 11, 11, 11, 11, 10)
    assert bar is not None and bar.time == ts("2026-09-01 14:30:00")
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 12, 9, 11, 150)


def test_daily_bar_counts_regular_hours_only_and_is_emitted_at_the_close() -> None:
    agg = BarAggregator("SPY.STK", "1d")
    assert agg.add(ts("2026-09-01 12:00:00"), 1, 100, 1, 1, 999) is None  # pre-market
    assert agg.add(ts("2026-09-01 13:30:00"), 10, 11, 9, 10, 100) is None  # 09:30 New York
    bar = agg.add(ts("2026-09-01 19:59:55"), 10, 12, 10, 11, 50)  # last bar before 16:00
    assert bar is not None and bar.time == ts("2026-09-01")
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 12, 9, 11, 150)


def test_history_bar_is_forming_only_until_it_closes() -> None:
    assert is_forming(ts("2026-09-01 14:30"), "1min", ts("2026-09-01 14:30:30"))
    assert not is_forming(ts("2026-09-01 14:30"), "1min", ts("2026-09-01 14:31:00"))
    # Tuesday's session closes 20:00 UTC (16:00 New York, daylight saving time)
    assert is_forming(ts("2026-09-01"), "1d", ts("2026-09-01 19:00"))
    assert not is_forming(ts("2026-09-01"), "1d", ts("2026-09-01 20:30"))
    # started on a Saturday: Friday's bar is complete and must be kept
    assert not is_forming(ts("2026-09-04"), "1d", ts("2026-09-05 10:00"))


def test_a_five_second_bar_without_prices_is_dropped_like_a_missing_one() -> None:
    agg = BarAggregator("SPY.STK", "1min")
    assert agg.add(ts("2026-09-01 14:30:00"), 10, 11, 9, 10.5, 100) is None
    assert agg.add(ts("2026-09-01 14:30:30"), float("nan"), 99, 1, float("nan"), 7) is None
    bar = agg.add(ts("2026-09-01 14:30:55"), 10.5, 12, 10, 11, 50)
    assert bar is not None
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10, 12, 9, 11, 150)
