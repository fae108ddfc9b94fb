from datetime import time

import pandas as pd
import pytest

from ats.sdk.schedule import Schedule


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def recorder(sched_fn, *args, **kw):
    calls: list[int] = []
    sched_fn(lambda: calls.append(1), *args, **kw)
    return calls


def test_before_close_fires_once_per_session_at_the_right_time():
    s = Schedule()
    calls = recorder(s.before_close, minutes=15)
    s.start(ts("2024-01-02 14:00"))
    s.advance(ts("2024-01-02 20:44"))
    assert calls == []
    s.advance(ts("2024-01-02 20:45"))
    s.advance(ts("2024-01-02 20:50"))
    assert calls == [1]


def test_before_close_uses_the_early_close_from_the_calendar():
    s = Schedule()
    calls = recorder(s.before_close, minutes=15)
    s.start(ts("2024-11-29 14:00"))  # day after Thanksgiving closes 13:00 ET = 18:00 UTC
    s.advance(ts("2024-11-29 17:46"))
    assert calls == [1]


def test_month_end_fires_on_last_session_of_month_only():
    s = Schedule()
    fired: list[pd.Timestamp] = []
    now = {"t": ts("2024-01-01")}
    s.month_end(lambda: fired.append(now["t"]))
    s.start(now["t"])
    for day in pd.date_range("2024-01-02", "2024-04-30", freq="D", tz="UTC"):
        now["t"] = day + pd.Timedelta(hours=23)
        s.advance(now["t"])
    # 2024-03-29 is Good Friday: March's last session is the 28th
    assert [f.date().isoformat() for f in fired] == [
        "2024-01-31", "2024-02-29", "2024-03-28", "2024-04-30"]


def test_weekly_fires_on_first_session_of_week_skipping_holidays():
    s = Schedule()
    fired: list[pd.Timestamp] = []
    now = {"t": ts("2024-01-10")}
    s.weekly(lambda: fired.append(now["t"]))
    s.start(now["t"])
    for day in pd.date_range("2024-01-11", "2024-01-24", freq="D", tz="UTC"):
        now["t"] = day + pd.Timedelta(hours=23)
        s.advance(now["t"])
    # 2024-01-15 is MLK day: that week starts on Tuesday the 16th
    assert [f.date().isoformat() for f in fired] == ["2024-01-16", "2024-01-22"]


def test_gap_catches_up_with_one_firing_only():
    s = Schedule()
    calls = recorder(s.at_open)
    s.start(ts("2024-01-02 00:00"))
    assert s.advance(ts("2024-01-12 23:00")) == 1
    assert calls == [1]


def test_every_fires_in_market_hours_aligned_to_the_clock():
    s = Schedule()
    calls = recorder(s.every, minutes=5)
    s.start(ts("2024-01-02 14:31"))
    for m in range(1, 20):
        s.advance(ts("2024-01-02 14:31") + pd.Timedelta(minutes=m))
    assert len(calls) == 4  # 14:35, 14:40, 14:45, 14:50
    s.advance(ts("2024-01-02 23:00"))  # after the close: the 21:00 slot, once
    s.advance(ts("2024-01-03 03:00"))
    assert len(calls) == 5


def test_daily_fires_at_local_exchange_time():
    s = Schedule()
    calls = recorder(s.daily, at=time(10, 0))
    s.start(ts("2024-07-01 00:00"))
    s.advance(ts("2024-07-01 13:59"))  # 09:59 EDT
    assert calls == []
    s.advance(ts("2024-07-01 14:00"))
    assert calls == [1]


def test_rules_fire_in_time_order():
    s = Schedule()
    order: list[str] = []
    s.before_close(lambda: order.append("close"), minutes=5)
    s.at_open(lambda: order.append("open"))
    s.start(ts("2024-01-02 00:00"))
    s.advance(ts("2024-01-03 00:00"))
    assert order == ["open", "close"]


def test_every_needs_a_positive_interval():
    with pytest.raises(ValueError):
        Schedule().every(lambda: None)


def test_nothing_fires_on_a_holiday_or_a_weekend():
    s = Schedule()
    opens = recorder(s.at_open)
    closes = recorder(s.before_close, minutes=15)
    s.start(ts("2026-12-24 23:00"))  # after Christmas Eve's early close
    for hour in range(0, 72, 3):  # Christmas Day (Friday), Saturday, Sunday
        s.advance(ts("2026-12-25 00:00") + pd.Timedelta(hours=hour))
    assert opens == [] and closes == []
    s.advance(ts("2026-12-28 14:30"))  # Monday's open
    assert opens == [1] and closes == []


def test_the_day_after_thanksgiving_2026_closes_early():
    s = Schedule()
    calls = recorder(s.before_close, minutes=15)
    s.start(ts("2026-11-27 14:00"))  # closes 13:00 EST = 18:00 UTC
    s.advance(ts("2026-11-27 17:44"))
    assert calls == []
    s.advance(ts("2026-11-27 17:45"))
    assert calls == [1]


def test_next_due_names_each_firing_time_in_turn_across_nights_and_weekends():
    s = Schedule()
    recorder(s.every, minutes=30)
    recorder(s.before_close, minutes=15)
    assert s.next_due() is None  # not started
    s.start(ts("2024-01-05 20:40"))  # Friday, 15:40 New York
    seen = []
    while (due := s.next_due()) is not None and due < ts("2024-01-08 15:30"):
        seen.append(due)
        s.advance(due)
    # Friday's 15:45 callback and the 16:00 slot (the close), then Monday's open
    assert seen == [ts("2024-01-05 20:45"), ts("2024-01-05 21:00"), ts("2024-01-08 14:30"),
                    ts("2024-01-08 15:00")]
