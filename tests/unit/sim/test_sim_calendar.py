"""The simulator's exchange calendars: weekends, holidays, half days, DST and IB's "N D"."""

from __future__ import annotations

import datetime as dt

import pytest

from ats.sim.calendar import calendar, demo_start
from ats.sim.clock import initial_start
from ats.sim.market import Market, day_index
from ats.sim.universe import Universe

UTC = dt.UTC
UNIVERSE = Universe()
MARKET = Market(UNIVERSE, seed=1)
SPY = UNIVERSE.by_symbol("SPY")
HOUR = 3600


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def stamps(bars: list) -> list[str]:  # type: ignore[type-arg]
    return [dt.datetime.fromtimestamp(b.time, UTC).strftime("%a %H:%M") for b in bars]


def rth_hourly(end: float, days: int = 1) -> list:  # type: ignore[type-arg]
    assert SPY is not None
    start = MARKET.sessions_back(SPY, end, days, True)
    return MARKET.intraday_bars(SPY, start, end, HOUR, "TRADES", True, complete_only=True)


def test_one_day_of_rth_hourly_bars_asked_on_a_saturday_is_fridays_session() -> None:
    bars = rth_hourly(at("2026-11-21T12:00:00"))
    assert stamps(bars) == ["Fri 14:30", "Fri 15:00", "Fri 16:00", "Fri 17:00", "Fri 18:00",
                            "Fri 19:00", "Fri 20:00"]


def test_two_days_asked_on_a_sunday_are_thursday_and_friday() -> None:
    bars = rth_hourly(at("2026-11-22T12:00:00"), days=2)
    assert {s[:3] for s in stamps(bars)} == {"Thu", "Fri"} and len(bars) == 14


def test_a_holiday_has_no_session_and_no_bars() -> None:
    xnys = calendar("XNYS")
    thanksgiving = dt.date(2026, 11, 26)
    assert not xnys.is_session(thanksgiving)
    assert SPY is not None
    # midnight to midnight in New York (the Wednesday's after-hours end 01:00 UTC Thursday)
    assert MARKET.intraday_bars(SPY, at("2026-11-26T05:00:00"), at("2026-11-27T05:00:00"),
                                60, "TRADES", rth_only=False) == []
    daily = MARKET.daily_bars(SPY, dt.date(2026, 11, 27), 3, "TRADES", at("2026-11-28T00:00:00"))
    assert [dt.datetime.fromtimestamp(b.time, UTC).date() for b in daily] == [
        dt.date(2026, 11, 25), dt.date(2026, 11, 27)]  # dated by session, the holiday skipped


def test_a_half_day_closes_at_13_00_new_york() -> None:
    session = calendar("XNYS").on(dt.date(2026, 11, 27))
    assert session is not None
    ny = dt.datetime.fromtimestamp(session.close, UTC).astimezone(
        dt.timezone(dt.timedelta(hours=-5)))
    assert ny.time() == dt.time(13, 0)
    bars = rth_hourly(at("2026-11-28T12:00:00"))
    assert stamps(bars) == ["Fri 14:30", "Fri 15:00", "Fri 16:00", "Fri 17:00"]


def test_the_open_moves_an_hour_earlier_in_utc_when_new_york_changes_to_summer_time() -> None:
    xnys = calendar("XNYS")
    before, after = xnys.on(dt.date(2026, 3, 6)), xnys.on(dt.date(2026, 3, 9))
    assert before is not None and after is not None
    hm = [dt.datetime.fromtimestamp(s.open, UTC).strftime("%H:%M") for s in (before, after)]
    assert hm == ["14:30", "13:30"]
    assert stamps(rth_hourly(at("2026-03-10T00:00:00")))[0] == "Mon 13:30"


def test_extended_hours_exist_only_on_trading_days() -> None:
    assert SPY is not None
    # midnight to midnight in New York
    saturday = MARKET.intraday_bars(SPY, at("2026-11-21T05:00:00"), at("2026-11-22T05:00:00"),
                                    HOUR, "TRADES", rth_only=False)
    friday = MARKET.intraday_bars(SPY, at("2026-11-20T05:00:00"), at("2026-11-21T05:00:00"),
                                  HOUR, "TRADES", rth_only=False)
    assert saturday == []
    assert stamps(friday)[0] == "Fri 09:00" and stamps(friday)[-1] == "Sat 00:00"  # 04-20 NY
    assert all(b.volume == 0 for b in friday if b.time >= at("2026-11-20T21:00:00"))


def test_vix_futures_trade_on_the_cfe_calendar_from_the_evening_before() -> None:
    session = calendar("CFE").on(dt.date(2026, 11, 30))
    assert session is not None
    hm = [dt.datetime.fromtimestamp(t, UTC).strftime("%a %H:%M")
          for t in (session.early, session.open, session.close)]
    assert hm == ["Sun 23:00", "Mon 14:30", "Mon 21:15"]


@pytest.mark.parametrize(("now", "expected"), [
    # Sunday before dawn: Friday the 20th at 10:00 New York, 30 minutes after the open
    ("2026-11-22T07:05:00", "2026-11-20T15:00:00"),
    # Sunday at 12:05 New York: the same time of day on Friday
    ("2026-11-22T17:05:00", "2026-11-20T17:05:00"),
    # the Sunday after Thanksgiving: Friday's half day, still 30 minutes after its open
    ("2026-11-29T07:05:00", "2026-11-27T15:00:00"),
    # a weekday before the open: the day before's session
    ("2026-11-18T12:00:00", "2026-11-17T15:00:00"),
])
def test_the_demo_clock_starts_in_the_last_session_when_the_market_is_closed(
        now: str, expected: str) -> None:
    start = demo_start(dt.datetime.fromisoformat(now).replace(tzinfo=UTC))
    assert start == dt.datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert calendar("XNYS").in_hours(start.timestamp(), rth=True)


def test_the_demo_clock_keeps_now_while_a_session_is_open() -> None:
    now = dt.datetime(2026, 11, 18, 15, 5, tzinfo=UTC)
    assert demo_start(now) == now
    assert initial_start("session", now)[0] is None


def test_the_wall_clock_mode_starts_now_even_on_a_sunday() -> None:
    sunday = dt.datetime(2026, 11, 22, 7, 5, tzinfo=UTC)
    start, note = initial_start("wall", sunday)
    assert start is None and "wall" in note
    start, note = initial_start("session", sunday)
    assert start == dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert "last New York session" in note and "Fri 2026-11-20 15:00" in note


def test_volume_is_heavier_at_the_open_and_close_than_at_midday() -> None:
    bars = rth_hourly(at("2026-11-21T12:00:00"))
    volumes = [b.volume for b in bars]
    assert volumes[1] > volumes[3] and volumes[-1] > volumes[3]
    assert SPY is not None
    day = MARKET.day_volume(SPY, day_index(dt.date(2026, 11, 20)))
    assert 0.7 < sum(volumes) * 100 / day < 1.3  # bar volumes are in lots of 100
