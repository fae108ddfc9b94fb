"""A strategy host's warm-up history through the broker's `history` service, over real ZeroMQ,
with a real LMDB ArcticDB and the real ib_async client against the real simulator (historical
pacing on): the cache first, the venue only for what is missing, and the same bars a direct
request gives."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import zmq.asyncio
from pinned import SESSION, SESSION_TS

from ats.broker.history import HistoryService
from ats.config import Config
from ats.data.ranges import Coverage
from ats.data.store import BarStore, normalize
from ats.host.warmup import WarmUp, warmup_start
from ats.ib import adapter, parsing
from ats.sdk.bars import BarSpec
from ats.sdk.instrument import Stock
from ats.sdk.schedule import sessions
from ats.sim.process import SimProcess
from bus.client import AsyncRequester
from bus.service import Service

pytestmark = pytest.mark.timeout(120)

_client_ids = itertools.count(700)
SPEC = BarSpec(Stock("SPY"), "1min", lookback=30)
XNYS = sessions("XNYS")


Scenario = Callable[[HistoryService, WarmUp, Any], Awaitable[Any]]


@pytest.fixture
def sim() -> Iterator[SimProcess]:
    """A simulator of each test's own, pacing historical requests as a Gateway: each test's
    history service paces from nothing, so a simulator shared with the test before would
    answer 162 to an identical request made within 15 s of that test's."""
    with SimProcess(seed=11, start=SESSION) as proc:
        yield proc


def run(home: Config, sim: SimProcess, scenario: Scenario) -> Any:
    """The broker's history service and a host's WarmUp, connected over ipc."""

    async def main() -> Any:
        ctx = zmq.asyncio.Context()
        endpoint = f"ipc://{home.home}/history.sock"
        ib = adapter.IB()
        await ib.connectAsync(sim.host, sim.port, clientId=next(_client_ids), timeout=10)
        host_ib = adapter.IB()
        await host_ib.connectAsync(sim.host, sim.port, clientId=next(_client_ids), timeout=10)
        history = HistoryService(ib, home.arctic_uri, "market_data")
        service = Service(ctx, endpoint, "broker")
        service.register("history", history.m_history)
        runner = asyncio.create_task(service.run())
        requester = AsyncRequester(ctx, endpoint, timeout=10.0)
        try:
            return await scenario(history, WarmUp(requester, host_ib), host_ib)
        finally:
            requester.close()
            service.stop()
            await asyncio.gather(runner, return_exceptions=True)
            ib.disconnect()
            host_ib.disconnect()
            ctx.destroy(linger=0)

    return asyncio.run(main())


async def venue_now(ib: Any) -> pd.Timestamp:
    return pd.Timestamp(await ib.reqCurrentTimeAsync()).tz_convert("UTC")


async def contract(ib: Any) -> Any:
    [spy] = await ib.qualifyContractsAsync(parsing.to_contract(SPEC.instrument))
    return spy


def test_warm_up_stores_what_it_fetched_and_the_next_host_sends_nothing(
        home: Config, sim: SimProcess) -> None:
    async def scenario(history: HistoryService, warm: WarmUp, ib: Any) -> None:
        spy = await contract(ib)
        first = await warm.bars(SPEC, spy, await venue_now(ib), XNYS)
        sent = history.requests
        assert sent >= 1, "an empty cache is filled from the venue"
        assert len(first) >= SPEC.lookback
        stored = BarStore(home.arctic_uri).read("SPY.1min")
        pd.testing.assert_frame_equal(first, stored, check_freq=False)

        again = await warm.bars(SPEC, spy, await venue_now(ib), XNYS)
        assert history.requests - sent <= 1, "at most the minute that completed since"
        assert again.index.is_unique and again.index[-1] >= first.index[-1]
        common = first.index.intersection(again.index)  # its start may be a minute later
        assert len(common) >= len(first) - 2
        pd.testing.assert_frame_equal(again.loc[common], first.loc[common], check_freq=False)

        # what a direct request gives (its last bar is the one still forming)
        direct = parsing.bars_to_df(await ib.reqHistoricalDataAsync(
            spy, endDateTime="", durationStr="1 D", barSizeSetting="1 min",
            whatToShow="TRADES", useRTH=False, formatDate=2))
        common = again.index.intersection(direct.index)
        assert len(common) >= SPEC.lookback
        pd.testing.assert_frame_equal(again.loc[common], direct.loc[common], check_freq=False,
                                      check_dtype=False)
        assert warm.venue_requests == 0, "the host itself asked the venue nothing"

    run(home, sim, scenario)


def test_a_cache_that_covers_the_warm_up_sends_no_request(home: Config,
                                                          sim: SimProcess) -> None:
    async def scenario(history: HistoryService, warm: WarmUp, ib: Any) -> None:
        spy = await contract(ib)
        daily = BarSpec(Stock("SPY"), "1d", lookback=20)
        await warm.bars(daily, spy, await venue_now(ib), XNYS)
        sent = history.requests
        for _ in range(3):  # three more hosts: the daily bars have not changed
            df = await warm.bars(daily, spy, await venue_now(ib), XNYS)
            assert len(df) >= 20 and df.index[-1] < SESSION_TS.normalize()
        assert history.requests == sent

    run(home, sim, scenario)


def test_only_the_missing_tail_is_fetched(home: Config, sim: SimProcess) -> None:
    async def scenario(history: HistoryService, warm: WarmUp, ib: Any) -> None:
        spy = await contract(ib)
        now = await venue_now(ib)
        full = await warm.bars(SPEC, spy, now, XNYS)
        # Keep the cache's older half only, as if the last host ran a while ago.
        store = BarStore(home.arctic_uri)
        first = store.coverage("SPY.1min").first  # type: ignore[union-attr]
        kept = full.iloc[: len(full) // 2]
        store.lib.write("SPY.1min", normalize(kept), metadata={
            "format": 1, "coverage": [int(first.value), int(kept.index[-1].value)]})
        assert store.coverage("SPY.1min") == Coverage(first, kept.index[-1])
        sent = history.requests
        again = await warm.bars(SPEC, spy, await venue_now(ib), XNYS)
        assert history.requests - sent == 1, "one request from the kept half to now"
        common = full.index.intersection(again.index)  # its start may be a minute later
        assert len(common) >= len(full) - 2 and again.index[-1] >= full.index[-1]
        pd.testing.assert_frame_equal(again.loc[common], full.loc[common], check_freq=False)
        tail = store.read("SPY.1min", kept.index[-1] + pd.Timedelta(1, "ns"))
        assert len(tail) >= len(full) - len(kept), "the tail was stored again"

    run(home, sim, scenario)


def test_after_the_close_the_sessions_daily_bar_is_served_though_not_yet_stored(
        tmp_path: Path) -> None:
    """16:00-19:00 New York: today's bar is final, but a daily bar is stored once its UTC day
    is over; the service asks the venue for it once and serves it to every host."""
    from ats.config import init_home

    evening = "2026-11-18T22:00:00+00:00"  # Wednesday, an hour after the close
    with SimProcess(seed=11, start=evening) as late:
        home = init_home(tmp_path / "home", {"venue": {"port": late.port}})

        async def scenario(history: HistoryService, warm: WarmUp, ib: Any) -> None:
            spy = await contract(ib)
            daily = BarSpec(Stock("SPY"), "1d", lookback=5)
            first = await warm.bars(daily, spy, await venue_now(ib), XNYS)
            assert first.index[-1] == pd.Timestamp("2026-11-18", tz="UTC")
            stored = BarStore(home.arctic_uri).read("SPY.1d")
            assert stored.index[-1] == pd.Timestamp("2026-11-17", tz="UTC")
            sent = history.requests
            again = await warm.bars(daily, spy, await venue_now(ib), XNYS)
            assert history.requests == sent, "the next host is served from memory"
            pd.testing.assert_frame_equal(again, first, check_freq=False)

        run(home, late, scenario)


def test_warmup_start_counts_regular_hours_back_over_closed_days() -> None:
    saturday = pd.Timestamp("2026-11-21T12:00:00Z")
    start = warmup_start(saturday, "1h", 10, XNYS)
    # 10 bars and 2 to spare: Friday's session holds 6.5 regular hours, Thursday's the rest
    assert start == pd.Timestamp("2026-11-19T21:00:00Z") - pd.Timedelta(hours=5.5)
    daily = warmup_start(saturday, "1d", 3, XNYS)
    assert daily == pd.Timestamp("2026-11-13T00:00:00Z")  # 3 sessions back, and 2 spare


def test_history_service_answers_bad_parameters_with_a_clear_error(tmp_path: Path) -> None:
    from bus.errors import RequestError

    service = HistoryService(adapter.IB(), f"lmdb://{tmp_path}/arctic", "market_data")
    with pytest.raises(RequestError, match="bar size '2d' is not one of"):
        asyncio.run(service.m_history({"instrument": {"symbol": "SPY"}, "bar_size": "2d",
                                       "start": 0}))
    with pytest.raises(RequestError, match="instrument needs a symbol"):
        asyncio.run(service.m_history({"instrument": {}, "bar_size": "1d", "start": 0}))
