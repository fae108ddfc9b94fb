"""A host's warm-up asks the broker's history service, not the venue; the live bars continue
the history with no duplicate and no gap; without the broker it asks the venue once itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hostkit import temp_host

from ats.data.barwire import frame_to_wire
from ats.host.main import Host
from ats.host.warmup import WarmUp
from ats.ib import adapter
from ats.sdk import Bar, BarSpec, Params, Stock, Strategy
from bus.errors import Code, RequestError

NOW = pd.Timestamp("2026-11-18T14:35:30Z")  #: a Wednesday session, the 14:35 bar forming
SPY_CON_ID = 756733


def minute_bars(first: str, last: str) -> pd.DataFrame:
    index = pd.date_range(first, last, freq="1min", tz="UTC", name="time")
    closes = np.linspace(500.0, 510.0, len(index))
    return pd.DataFrame({"open": closes, "high": closes + 1, "low": closes - 1,
                         "close": closes, "volume": 100.0}, index=index)


class Watcher(Strategy[Params]):
    params_type = Params

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(Stock("SPY"), "1min", lookback=5)]

    def on_init(self) -> None:
        self.seen: list[pd.Timestamp] = []

    def on_start(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        self.seen.append(bar.time)


class FakeBroker:
    """The broker's `history` method answering from `bars`, newest up to the venue clock."""

    def __init__(self, bars: pd.DataFrame, up: bool = True) -> None:
        self.bars, self.up = bars, up
        self.asked: list[dict[str, Any]] = []

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      timeout: float | None = None, retries: int | None = None) -> Any:
        if not self.up:
            raise RequestError(Code.TIMEOUT, "broker: no reply within 3s")
        if method == "ping":
            return {}
        assert method == "history" and params is not None
        self.asked.append(params)
        start = pd.Timestamp(params["start"], unit="ns", tz="UTC")
        return {**frame_to_wire(self.bars[self.bars.index >= start]), "more": False,
                "requests": 0, "error": ""}


class FakeIB:
    def __init__(self, bars: list[Any] | None = None) -> None:
        self.history_requests: list[dict[str, Any]] = []
        self.bars = bars or []

    async def qualifyContractsAsync(self, contract: Any) -> list[Any]:
        contract.conId = SPY_CON_ID
        return [contract]

    async def reqHistoricalDataAsync(self, contract: Any, **kw: Any) -> list[Any]:
        self.history_requests.append(kw)
        return self.bars


@pytest.fixture
def host() -> Iterator[Host]:
    with temp_host("watcher") as h:
        h.strategy = Watcher("watcher", Params(), h.ctx)
        h.clock.sync(NOW.timestamp())
        h.clock.speed = 0.0
        yield h


def warm(host: Host, broker: FakeBroker, ib: FakeIB) -> None:
    host.ib = ib
    host.warm = WarmUp(broker, ib)  # type: ignore[arg-type]
    assert host.strategy is not None
    asyncio.run(host.feed.warm_up(host.strategy))
    host.strategy.start()


def stream(host: Host, first: str, n: int) -> None:
    bars = adapter.ib.RealTimeBarList()
    bars.contract = SimpleNamespace(conId=SPY_CON_ID)
    t0 = pd.Timestamp(first).timestamp()
    for i in range(n):
        t = datetime.fromtimestamp(t0 + 5 * i, UTC)
        bars.append(adapter.ib.RealTimeBar(t, -1, 1.0, 1.0, 1.0, 1.0, 100.0, 1.0, 1))
        host.feed.on_rt_bar(bars, True)


def test_warm_up_asks_the_broker_and_the_live_bars_continue_it(host: Host) -> None:
    broker, ib = FakeBroker(minute_bars("2026-11-18T14:20Z", "2026-11-18T14:34Z")), FakeIB()
    warm(host, broker, ib)
    assert ib.history_requests == [], "the venue was not asked"
    [asked] = broker.asked
    assert asked["bar_size"] == "1min" and asked["instrument"]["symbol"] == "SPY"
    assert pd.Timestamp(asked["start"], unit="ns", tz="UTC") <= NOW - pd.Timedelta(minutes=7)
    assert host.strategy is not None
    window = host.strategy.bars(Stock("SPY"))
    assert window.index[-1] == pd.Timestamp("2026-11-18T14:34Z")
    # The real-time feed started inside the 14:34 bar the history holds: not sent twice.
    stream(host, "2026-11-18T14:34:50Z", 2 + 12 + 1)  # 14:34:50 .. 14:36:00
    assert host.strategy.seen == [pd.Timestamp("2026-11-18T14:35Z")]


def test_bars_completed_while_warming_up_are_asked_again(host: Host) -> None:
    class Late(FakeBroker):
        async def request(self, method: str, params: dict[str, Any] | None = None,
                          timeout: float | None = None, retries: int | None = None) -> Any:
            reply = await super().request(method, params, timeout, retries)
            if method == "history":  # pacing held the answer while two bars completed
                host.clock.sync((NOW + pd.Timedelta(minutes=2)).timestamp())
                self.bars = minute_bars("2026-11-18T14:20Z", "2026-11-18T14:36Z")
            return reply

    broker = Late(minute_bars("2026-11-18T14:20Z", "2026-11-18T14:34Z"))
    warm(host, broker, FakeIB())
    assert len(broker.asked) == 2
    assert host.strategy is not None
    window = host.strategy.bars(Stock("SPY"))
    assert list(window.index[-3:]) == list(pd.date_range("2026-11-18T14:34Z", periods=3,
                                                         freq="1min", tz="UTC"))
    assert window.index.is_unique


def test_without_the_broker_the_host_asks_the_venue_itself_once(host: Host) -> None:
    venue_bars = [SimpleNamespace(date=t.to_pydatetime(), open=1.0, high=1.0, low=1.0,
                                  close=1.0, volume=1.0)
                  for t in pd.date_range("2026-11-18T14:25Z", periods=11, freq="1min",
                                         tz="UTC")]  # 14:25 .. 14:35, the last one forming
    broker, ib = FakeBroker(minute_bars("2026-11-18T14:20Z", "2026-11-18T14:34Z"), up=False), \
        FakeIB(venue_bars)
    warm(host, broker, ib)
    [asked] = ib.history_requests
    assert asked["endDateTime"] == "" and asked["barSizeSetting"] == "1 min"
    assert host.warm.venue_requests == 1
    assert host.strategy is not None
    assert host.strategy.bars(Stock("SPY")).index[-1] == pd.Timestamp("2026-11-18T14:34Z")
