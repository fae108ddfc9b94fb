"""What a scheduled callback sees depends only on its time: the bars that ended at or before it,
never the close of a bar still in progress; its orders fill at prices that came after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from callbackkit import QQQ, SPY, Seer

from ats.sdk import BarSpec, Params, Strategy, backtest
from ats.sdk.schedule import sessions
from ats.sdk.testkit import daily_bars, intraday_bars, random_walk, trading_days

NY = "America/New_York"


def previous_session(day: pd.Timestamp) -> pd.Timestamp:
    dates = sessions("XNYS").dates
    i = dates.get_loc(day.tz_convert(NY).tz_localize(None).normalize())
    return pd.Timestamp(dates[i - 1]).tz_localize("UTC")


def test_a_monday_ten_oclock_weekly_callback_on_daily_bars_sees_the_previous_sessions_close():
    df = daily_bars(random_walk(30, seed=1), start="2026-10-05")
    r = backtest.run(Seer, {}, {SPY: df})
    # the first Monday's callback, before any bar was complete, sees none
    weekly = [s for s in r.strategy.seen if s[0] == "weekly" and s[2] is not None]
    assert len(weekly) >= 4
    for _, now, last_bar, close, _, _ in weekly:
        local = now.tz_convert(NY)
        assert (local.weekday(), local.hour, local.minute) == (0, 10, 0)
        assert last_bar == previous_session(now)  # Friday's bar, not Monday's
        assert close == df.loc[last_bar, "close"]


def test_a_before_close_callback_never_sees_the_days_close_only_the_intraday_bars_so_far():
    days = trading_days("2026-11-09", 4)
    n = 78 * len(days)
    daily = daily_bars(random_walk(len(days), seed=2), index=days)
    qqq = intraday_bars(random_walk(n, seed=3), day="2026-11-09", minutes=5)
    r = backtest.run(Seer, {"intraday": True}, {SPY: daily, QQQ: qqq})
    closes = [s for s in r.strategy.seen if s[0] == "before_close"]
    assert len(closes) == len(days)
    for _, now, last_daily, _, last_5min, qqq_close in closes:
        assert last_daily is None or last_daily < now.normalize()  # never today's daily bar
        # the last 5-minute bar complete by 15:45: the one from 15:40 to 15:45
        assert last_5min + pd.Timedelta(minutes=5) == now
        assert qqq_close == qqq.loc[last_5min, "close"]
    # the sessions after the first see the previous session's daily bar
    assert [s[2] for s in closes[1:]] == list(days[:-1])


class Chaser(Strategy[Params]):
    """At 15:45: long 10 when the last close it sees rose, short 10 when it fell."""

    params_type = Params

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(SPY, "1d", lookback=5)]

    def on_start(self) -> None:
        self.schedule.before_close(self.decide, minutes=15)

    def decide(self) -> None:
        c = self.closes(SPY)
        if len(c) >= 2:
            self.order_target_quantity(SPY, 10.0 if c[-1] > c[-2] else -10.0)

    def on_stop(self) -> None:
        pass


def _orders(r: backtest.BacktestResult) -> list[tuple[pd.Timestamp, float]]:
    return [(r.context.placed_at[h.local_id], h.request.quantity) for h in r.orders]


@pytest.mark.parametrize("fill_at", ["close", "next_open"])
def test_a_days_close_changes_nothing_decided_or_filled_before_it(fill_at):
    closes = random_walk(40, seed=4, vol=0.02)
    base = daily_bars(closes, start="2026-03-02")
    r = backtest.run(Chaser, None, {SPY: base}, fill_at=fill_at, commission_per_share=0.0)
    assert len(r.orders) > 5
    ends = [pd.Timestamp(sessions("XNYS").closes[sessions("XNYS").dates.get_loc(
        d.tz_localize(None))], tz="UTC") for d in base.index]
    for k in (10, 20, 30):
        moved = base.copy()
        # the day's close flips the day's direction: a look-ahead would decide otherwise
        moved.iloc[k, moved.columns.get_loc("close")] = 2 * base["open"].iloc[k] - closes[k]
        moved["high"] = moved[["open", "close", "high"]].max(axis=1)
        moved["low"] = moved[["open", "close", "low"]].min(axis=1)
        other = backtest.run(Chaser, None, {SPY: moved}, fill_at=fill_at,
                             commission_per_share=0.0)
        end = ends[k]
        assert [o for o in _orders(other) if o[0] < end] == [o for o in _orders(r) if o[0] < end]
        # the fills a day's close could change: none before that day's bar is complete
        before = r.fills[r.fills["time"] <= base.index[k]].drop(columns="local_id")
        pd.testing.assert_frame_equal(
            other.fills[other.fills["time"] <= base.index[k]].drop(columns="local_id"), before)
        # ... and it does change what is decided after it (the test could fail)
        assert _orders(other) != _orders(r)
    # no market order fills at the close of the session in which it was placed
    for h in r.orders:
        fill = r.fills[r.fills["local_id"] == h.local_id]
        if len(fill):
            placed = r.context.placed_at[h.local_id]
            assert fill["time"].iloc[0] > placed.normalize()
            assert fill["price"].iloc[0] == base.loc[fill["time"].iloc[0], "open"]


@pytest.mark.parametrize("intraday", [False, True])
@pytest.mark.parametrize("fill_at", ["close", "next_open"])
def test_a_ten_oclock_order_on_daily_bars_fills_at_the_next_sessions_open(fill_at, intraday):
    df = daily_bars(np.linspace(100.0, 130.0, 15), start="2026-10-05")  # Monday first
    bars = {SPY: df}
    if intraday:  # QQQ's 5-minute bars run all day beside SPY's daily ones
        bars[QQQ] = intraday_bars(np.linspace(300.0, 310.0, 78 * 15), day="2026-10-05")
    r = backtest.run(Seer, {"buy_weekly": 5.0, "intraday": intraday}, bars, fill_at=fill_at)
    first = r.fills.iloc[0]
    placed = r.context.placed_at[first["local_id"]]
    assert placed.tz_convert(NY).strftime("%a %H:%M") == "Mon 10:00"
    tuesday = df.index[df.index > placed][0]  # Monday's own bar began before the order
    assert first["time"] == tuesday
    assert first["price"] == df.loc[tuesday, "open"]
