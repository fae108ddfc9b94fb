"""The stepped clock's pieces: a clock that only moves forward when set, and 5-second bars
built a day at a time that equal the simulator's bar-at-a-time ones."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pinned import SESSION

from ats.ib.venueclock import VenueClock
from ats.sim.clock import SteppedClock, initial_start
from ats.sim.fastbars import realtime_bars
from ats.sim.market import Market
from ats.sim.universe import Universe

START = dt.datetime.fromisoformat(SESSION)


def test_stepped_clock_stands_still_and_never_runs_backwards() -> None:
    clock = SteppedClock(START)
    assert clock.now() == START and clock.wall_seconds(60) == 0.0
    clock.set(START.timestamp() + 5)
    assert clock.timestamp() == START.timestamp() + 5
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START.timestamp())


def test_unpinned_stepped_clock_starts_at_now() -> None:
    start, note = initial_start("stepped", START)
    assert start is None and "stepped" in note


def test_stepped_venue_clock_moves_only_forward_with_the_venue() -> None:
    clock = VenueClock(60.0, stepped=True)
    clock.sync(START.timestamp())
    assert clock.now() == pd.Timestamp(START)
    clock.follow(START.timestamp() + 5)
    clock.sync(START.timestamp() + 1)  # an older reply, read after a later bar
    assert clock.now() == pd.Timestamp(START) + pd.Timedelta(seconds=5)


def _stored_spy(market: Market, last_day: dt.date) -> None:
    """A daily SPY series ending on `last_day`, as replay.load_overrides stores it."""
    days = pd.bdate_range(last_day - dt.timedelta(days=20), last_day)
    times = np.array([pd.Timestamp(d, tz="UTC").timestamp() for d in days])
    closes = np.linspace(500.0, 520.0, len(days))
    values = np.column_stack([closes, closes + 1, closes - 1, closes, np.full(len(days), 1e6)])
    market.overrides[("SPY", "1d")] = (times, values)


@pytest.mark.parametrize("symbol", ["SPY", "VIX", "SPX", "VIX3M"])
@pytest.mark.parametrize("what", ["TRADES", "BID_ASK"])
@pytest.mark.parametrize("rth", [False, True])
def test_day_at_a_time_bars_equal_bar_at_a_time_ones(symbol: str, what: str, rth: bool) -> None:
    universe = Universe()
    market = Market(universe, 5)
    inst = universe.by_symbol(symbol)
    assert inst is not None
    # from an hour before Wednesday's close, across the synthetic day's end, into after hours
    start = START.timestamp() + 5.5 * 3600 + 2.5
    end = start + 4 * 3600
    assert realtime_bars(market, inst, start, end, what, rth) == market.intraday_bars(
        inst, start, end, 5, what, rth, complete_only=True)


def test_day_at_a_time_bars_of_a_future_equal_bar_at_a_time_ones() -> None:
    universe = Universe()
    market = Market(universe, 5)
    future = universe.futures(START.date())[0]
    start, end = START.timestamp() - 1800, START.timestamp() + 1800
    assert realtime_bars(market, future, start, end, "TRADES", False) == market.intraday_bars(
        future, start, end, 5, "TRADES", False, complete_only=True)


def test_day_at_a_time_bars_of_a_stored_series_equal_bar_at_a_time_ones() -> None:
    universe = Universe()
    market = Market(universe, 5)
    spy = universe.by_symbol("SPY")
    assert spy is not None
    _stored_spy(market, START.date() - dt.timedelta(days=1))  # Tuesday: then the continuation
    start, end = START.timestamp() - 86400, START.timestamp() + 3600
    bars = realtime_bars(market, spy, start, end, "TRADES", True)
    assert len(bars) > 4680
    assert bars == market.intraday_bars(spy, start, end, 5, "TRADES", True, complete_only=True)
