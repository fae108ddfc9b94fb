"""When a scheduled data job runs next, from the XNYS calendar, with the instant pinned."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ats.scheduler.timing import AFTER_CLOSE, Timing, TimingError

NY = ZoneInfo("America/New_York")


def ny(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY).timestamp()


def as_ny(ts: float | None) -> str:
    assert ts is not None
    return dt.datetime.fromtimestamp(ts, NY).strftime("%a %Y-%m-%d %H:%M:%S")


def test_after_close_runs_the_delay_after_a_regular_close() -> None:
    t = Timing(AFTER_CLOSE, after_close_minutes=30)
    assert as_ny(t.next_run(ny("2026-11-18 10:00"))) == "Wed 2026-11-18 16:30:00"


def test_after_close_on_a_half_day_follows_its_early_close() -> None:
    # the day after Thanksgiving closes at 13:00 New York
    t = Timing(AFTER_CLOSE, after_close_minutes=30)
    assert as_ny(t.next_run(ny("2026-11-27 09:00"))) == "Fri 2026-11-27 13:30:00"


def test_after_close_skips_a_holiday() -> None:
    # after Wednesday's run the next is Friday's: Thanksgiving (Thursday) has no session
    t = Timing(AFTER_CLOSE, after_close_minutes=30)
    assert as_ny(t.next_run(ny("2026-11-25 16:30"))) == "Fri 2026-11-27 13:30:00"
    assert as_ny(t.next_run(ny("2026-12-24 20:00"))) == "Mon 2026-12-28 16:30:00"  # Christmas


def test_after_close_skips_the_weekend() -> None:
    t = Timing(AFTER_CLOSE, after_close_minutes=15)
    assert as_ny(t.next_run(ny("2026-11-20 16:20"))) == "Mon 2026-11-23 16:15:00"
    assert as_ny(t.next_run(ny("2026-11-21 12:00"))) == "Mon 2026-11-23 16:15:00"


def test_after_close_is_strictly_after_the_instant_given() -> None:
    t = Timing(AFTER_CLOSE, after_close_minutes=30)
    assert as_ny(t.next_run(ny("2026-11-18 16:30"))) == "Thu 2026-11-19 16:30:00"


def test_a_cron_job_runs_on_sessions_only() -> None:
    t = Timing("0 18 * * *")
    assert as_ny(t.next_run(ny("2026-11-18 17:00"))) == "Wed 2026-11-18 18:00:00"
    assert as_ny(t.next_run(ny("2026-11-20 18:00"))) == "Mon 2026-11-23 18:00:00"  # weekend
    assert as_ny(t.next_run(ny("2026-11-25 18:00"))) == "Fri 2026-11-27 18:00:00"  # holiday


def test_a_cron_job_with_any_day_runs_on_weekends_and_holidays() -> None:
    t = Timing("0 18 * * *", any_day=True)
    assert as_ny(t.next_run(ny("2026-11-20 18:00"))) == "Sat 2026-11-21 18:00:00"
    assert as_ny(t.next_run(ny("2026-11-25 18:00"))) == "Thu 2026-11-26 18:00:00"


def test_a_cron_expression_is_read_in_its_time_zone() -> None:
    t = Timing("30 9 * * 1-5", tz="Europe/London")
    assert as_ny(t.next_run(ny("2026-11-18 00:00"))) == "Wed 2026-11-18 04:30:00"


def test_a_cron_expression_may_give_seconds_as_a_sixth_field() -> None:
    t = Timing("* * * * * */5", any_day=True)
    start = ny("2026-11-21 12:00:01")
    assert as_ny(t.next_run(start)) == "Sat 2026-11-21 12:00:05"


def test_a_cron_job_that_never_falls_on_a_session_has_no_next_run() -> None:
    assert Timing("0 12 25 12 *").next_run(ny("2026-11-18 00:00")) is None  # Christmas only


@pytest.mark.parametrize(("at", "tz", "message"), [
    ("after close", "America/New_York", "neither after_close nor a CRON expression"),
    ("61 * * * *", "America/New_York", "neither after_close nor a CRON expression"),
    ("0 18 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_a_bad_timing_is_refused_in_one_line(at: str, tz: str, message: str) -> None:
    with pytest.raises(TimingError, match=message) as err:
        Timing(at, tz=tz)
    assert "\n" not in str(err.value)


def test_a_cron_job_every_few_seconds_waits_out_the_weekend() -> None:
    t = Timing("* * * * * */5")
    assert as_ny(t.next_run(ny("2026-11-21 12:00:01"))) == "Mon 2026-11-23 00:00:00"
