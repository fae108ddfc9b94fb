"""The host's tick stream: a fast market-data feed is coalesced to at most one tick per
instrument per interval, the newest; other instruments' tickers are ignored; IB's unset fields
become None."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from types import SimpleNamespace
from typing import Any

import pandas as pd

from ats.host.ticks import TickStream
from ats.sdk import Stock, Tick, TickSpec

SPY, QQQ = Stock("SPY"), Stock("QQQ")
T = pd.Timestamp("2026-11-18T14:35:00Z")


class FakeIB:
    """What TickStream uses of ib_async's IB: market data requests and the batch event."""

    def __init__(self) -> None:
        self.requested: list[int] = []
        self.cancelled: list[int] = []
        self.handlers: list[Any] = []
        self.pendingTickersEvent = self

    def __iadd__(self, handler: Any) -> FakeIB:
        self.handlers.append(handler)
        return self

    def reqMktData(self, contract: Any, *args: Any) -> None:
        self.requested.append(contract.conId)

    def cancelMktData(self, contract: Any) -> None:
        self.cancelled.append(contract.conId)

    def send(self, *tickers: Any) -> None:
        for handler in self.handlers:
            handler(list(tickers))  # ib_async sends a set of its (hashable) tickers


def ticker(con_id: int, last: float, bid: float = math.nan, size: float = -1) -> Any:
    return SimpleNamespace(contract=SimpleNamespace(conId=con_id), bid=bid, ask=last + 0.01,
                           last=last, bidSize=size, askSize=200.0, lastSize=100.0)


def stream(ib: FakeIB, interval: float) -> tuple[TickStream, list[Tick]]:
    got: list[Tick] = []
    ticks = TickStream(ib, lambda: T, got.append)
    contracts = {SPY.key: SimpleNamespace(conId=1), QQQ.key: SimpleNamespace(conId=2)}
    ticks.subscribe([TickSpec(SPY, min_interval=interval)], contracts)
    return ticks, got


def test_a_fast_feed_is_coalesced_to_one_tick_per_interval_the_newest() -> None:
    async def scenario() -> tuple[list[Tick], int]:
        ib = FakeIB()
        _, got = stream(ib, interval=0.05)
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < 0.5:
            sent += 1
            ib.send(ticker(1, 100.0 + sent))  # a new price every millisecond
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.1)  # the last interval ends: the newest update goes out
        return got, sent

    got, sent = asyncio.run(scenario())
    assert sent > 100
    assert 5 <= len(got) <= 0.5 / 0.05 + 2  # bounded by the interval, not by the feed
    assert got[-1].last == 100.0 + sent  # nothing newer was lost
    assert all(a.last is not None and b.last is not None and a.last < b.last
               for a, b in itertools.pairwise(got))


def test_only_subscribed_instruments_give_ticks_and_unset_fields_are_none() -> None:
    async def scenario() -> list[Tick]:
        ib = FakeIB()
        _, got = stream(ib, interval=0.01)
        assert ib.requested == [1]
        ib.send(ticker(2, 300.0), ticker(1, 100.0))
        await asyncio.sleep(0.05)
        ib.send(ticker(2, 301.0))
        await asyncio.sleep(0.05)
        return got

    got = asyncio.run(scenario())
    assert len(got) == 1
    tick = got[0]
    assert (tick.instrument, tick.time, tick.last, tick.ask) == (SPY.key, T, 100.0, 100.01)
    assert tick.bid is None and tick.bid_size is None  # NaN and -1: not sent by the venue
    assert (tick.ask_size, tick.last_size) == (200.0, 100.0)


def test_cancel_stops_the_requests_and_resubscribe_makes_them_again() -> None:
    ib = FakeIB()
    ticks, _ = stream(ib, interval=0.01)
    ticks.resubscribe()
    assert ib.cancelled == [1] and ib.requested == [1, 1]
    ticks.cancel()
    assert ib.cancelled == [1, 1] and not ticks.specs
