"""The real strategy host streams the simulator's market data (reqMktData) to a strategy's
`on_tick` for the instruments of its TickSpecs, and for no other instrument, even one whose
bars it streams; after a 1101 (market data lost) the ticks resume."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hostharness import HostHarness, temp_root, wait_until
from pinned import SESSION

from ats.ib import adapter
from ats.sim.process import SimProcess

SPEED = 10.0

TICK_STRATEGY = '''
"""Ticks of SPY, 5-second bars of QQQ: records every tick."""
from dataclasses import dataclass

from ats.sdk import Bar, BarSpec, Params, Stock, Strategy, Tick, TickSpec


@dataclass(frozen=True)
class P(Params):
    pass


class Ticks(Strategy[P]):
    params_type = P
    description = "records the ticks it is given"

    def subscriptions(self):
        return [BarSpec(Stock("QQQ"), "5s", lookback=0)]

    def tick_subscriptions(self):
        return [TickSpec(Stock("SPY"), min_interval=0.1)]

    def on_init(self):
        self.seen = []
        self.bars_seen = []

    def on_start(self):
        pass

    def on_bar(self, bar: Bar):
        self.bars_seen.append(bar.instrument)

    def on_tick(self, tick: Tick):
        self.seen.append(tick)

    def on_stop(self):
        pass
'''


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(seed=5, speed=SPEED, start=SESSION) as proc:
        yield proc


@pytest.fixture
def root() -> Iterator[Path]:
    with temp_root() as path:
        yield path


def test_a_host_gives_ticks_of_its_tick_subscriptions_only(sim: SimProcess, root: Path) -> None:
    async def scenario() -> None:
        harness = HostHarness(sim, root, TICK_STRATEGY, name="ticks", client_id=142,
                              speed=SPEED)
        try:
            host = await harness.start()
            strategy = host.strategy
            assert strategy is not None
            await wait_until(lambda: len(strategy.bars_seen) >= 2, "QQQ's bars")
            ticks = harness.seen
            assert {t.instrument for t in ticks} == {"SPY.STK"}  # none of QQQ
            assert set(host.feed.ticks.tickers.values()) == {"SPY.STK"}
            assert any(t.bid is not None and t.ask is not None and t.bid <= t.ask for t in ticks)
            assert any(t.last is not None for t in ticks)
            # stamped with the venue's clock (the pinned session), not the wall clock
            assert all(abs(t.time - host.clock.now()) < pd.Timedelta(minutes=30) for t in ticks)
            # throttled: at most one tick per 0.1 s (wall), however fast the quotes come
            n = len(harness.seen)
            await asyncio.sleep(1.0)
            assert len(harness.seen) - n <= 1.0 / 0.1 + 2
            # market data lost and restored: the request is made again and ticks resume
            at_1101: list[int] = []  #: how many ticks the strategy had when 1101 arrived
            host.ib.errorEvent += lambda _req, code, _msg, _contract: (
                at_1101.append(len(harness.seen)) if code == adapter.RESTORED_DATA_LOST
                else None)
            await asyncio.to_thread(sim.admin.call, "outage", seconds=1, data_lost=True)
            await wait_until(lambda: bool(at_1101), "error 1101 at the host")
            await wait_until(lambda: len(harness.seen) >= at_1101[0] + 2, "ticks after 1101")
        finally:
            await harness.stop()

    asyncio.run(scenario())

