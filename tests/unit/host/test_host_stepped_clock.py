"""A host on a stepped simulator (`[sim] clock = "stepped"`): its clock moves only with the
venue's bars, so a scheduled callback runs at its own instant, after every bar completed by
then and before any later one, however fast the bars arrive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from hostkit import temp_host

from ats.host.feed import BarAggregator
from ats.host.main import Host
from ats.ib import adapter
from ats.sdk import Bar, BarSpec, OrderHandle, OrderRequest, Params, Stock, Strategy

SPY = 756733
OPEN = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  #: a Wednesday's regular open (pinned.py)
CLOSE = datetime(2026, 11, 18, 21, 0, tzinfo=UTC)


class Clocked(Strategy[Params]):
    """Notes what it saw: the time and the last complete bar at each callback and bar."""

    params_type = Params
    bar_size = "1min"

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(Stock("SPY"), self.bar_size, lookback=5)]

    def on_init(self) -> None:
        self.seen: list[tuple[str, pd.Timestamp, pd.Timestamp | None]] = []

    def on_start(self) -> None:
        self.schedule.at_open(self.callback, offset_minutes=10)  # 14:40 UTC

    def _last(self) -> pd.Timestamp | None:
        bars = self.bars("SPY.STK")
        return bars.index[-1] if len(bars) else None

    def callback(self) -> None:
        self.seen.append(("callback", self.now, self._last()))

    def on_bar(self, bar: Bar) -> None:
        self.seen.append(("bar", self.now, bar.time))


class DailyClocked(Clocked):
    bar_size = "1d"


def make_host(cls: type[Clocked]) -> Iterator[Host]:
    with temp_host("clocked", {"sim": {"clock": "stepped"}}) as h:
        h.clock.sync(OPEN.timestamp() - 3600)
        h.strategy = cls("clocked", Params(), h.ctx)
        h.strategy.start()
        h.feed.aggregators["SPY.STK"] = BarAggregator("SPY.STK", cls.bar_size)
        h.contracts.key_of[SPY] = "SPY.STK"
        yield h


@pytest.fixture
def host() -> Iterator[Host]:
    yield from make_host(Clocked)


@pytest.fixture
def daily_host() -> Iterator[Host]:
    yield from make_host(DailyClocked)


def stream(host: Host, start: datetime, end: datetime) -> None:
    """5-second bars [start, end), delivered as fast as the host takes them."""
    bars = adapter.ib.RealTimeBarList()
    bars.contract = SimpleNamespace(conId=SPY)
    t = start
    while t < end:
        bars.append(adapter.ib.RealTimeBar(t, -1, 1.0, 1.0, 1.0, 1.0, 100.0, 1.0, 1))
        host.feed.on_rt_bar(bars, True)
        t += timedelta(seconds=5)


def test_a_stepped_host_is_stepped_and_its_clock_stands_still(host: Host) -> None:
    assert host.stepped and host.clock.stepped
    assert host.clock.now() == pd.Timestamp(OPEN) - pd.Timedelta(hours=1)
    assert host.hb_info()["venue_time"] == (pd.Timestamp(OPEN) - pd.Timedelta(hours=1)).isoformat()


def test_a_callback_runs_at_its_instant_after_the_bars_complete_by_then(host: Host) -> None:
    stream(host, OPEN, OPEN + timedelta(minutes=20))
    assert isinstance(host.strategy, Clocked)
    callbacks = [s for s in host.strategy.seen if s[0] == "callback"]
    at = pd.Timestamp(OPEN) + pd.Timedelta(minutes=10)
    assert callbacks == [("callback", at, at - pd.Timedelta(minutes=1))]
    bar_times = [(now, t) for kind, now, t in host.strategy.seen if kind == "bar"]
    assert all(now == t + pd.Timedelta(minutes=1) for now, t in bar_times)  # at their end
    assert host.clock.now() == pd.Timestamp(OPEN) + pd.Timedelta(minutes=20)  # the last end


def test_a_daily_bar_is_handled_at_its_sessions_close(daily_host: Host) -> None:
    stream(daily_host, CLOSE - timedelta(minutes=2), CLOSE + timedelta(minutes=1))
    assert isinstance(daily_host.strategy, Clocked)
    assert [s for s in daily_host.strategy.seen if s[0] == "bar"] == [
        ("bar", pd.Timestamp(CLOSE), pd.Timestamp("2026-11-18", tz="UTC"))]


def test_the_venues_answer_moves_the_clock_only_forward(host: Host) -> None:
    host.clock.follow(OPEN.timestamp())
    host.clock.sync(OPEN.timestamp() - 60)  # an answer older than a bar already handled
    assert host.clock.now() == pd.Timestamp(OPEN)


def test_a_running_simulator_leaves_the_host_on_wall_time() -> None:
    with temp_host("running") as h:
        assert not h.stepped and not h.clock.stepped


class SteppedVenue:
    """The part of ib_async a stepped host's clock loop uses (its names): the venue's time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def isConnected(self) -> bool:
        return True

    async def reqCurrentTimeAsync(self) -> datetime:
        return self.now


def test_an_order_is_in_flight_until_the_venues_first_status(host: Host) -> None:
    handle = OrderHandle(local_id="clocked-1", request=OrderRequest(Stock("SPY"), 10),
                         created=host.clock.now())
    host.ctx.handles[handle.local_id] = handle
    assert host.hb_info()["in_flight"] == 1
    status = SimpleNamespace(status="Submitted", filled=0.0, avgFillPrice=0.0)
    trade = SimpleNamespace(order=SimpleNamespace(action="BUY"), log=[], orderStatus=status)
    host.orders.sync_handle(handle, trade)
    assert host.hb_info()["in_flight"] == 0
    assert host.sync_wanted.is_set()  # the clock loop beats again at once to say so


def test_bars_arriving_ask_the_clock_loop_for_the_venues_time(host: Host) -> None:
    assert not host.sync_wanted.is_set()
    stream(host, OPEN, OPEN + timedelta(seconds=5))
    assert host.sync_wanted.is_set()


def test_a_stepped_host_beats_after_each_sync_with_the_venue_time_it_confirmed(
        host: Host) -> None:
    venue = SteppedVenue(OPEN)
    host.ib, host.gate.venue_state = venue, "connected"
    beats: list[tuple[str | None, int]] = []

    def beat() -> int:
        info = host.hb_info()
        beats.append((info.get("venue_synced"), info["in_flight"]))
        if len(beats) == 1:
            venue.now = OPEN + timedelta(minutes=5)
            host.sync_wanted.set()  # as a bar or an order status does
        else:
            host.stop_event.set()
        return len(beats)

    host.heartbeater.beat = beat  # type: ignore[method-assign]

    async def run() -> None:
        await asyncio.wait_for(host.clock_loop(), 30)

    asyncio.run(run())
    assert beats == [(pd.Timestamp(OPEN).isoformat(), 0),
                     ((pd.Timestamp(OPEN) + pd.Timedelta(minutes=5)).isoformat(), 0)]
