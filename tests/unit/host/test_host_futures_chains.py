"""Futures chains live for weeks in a strategy host: expired contracts leave the chain the
strategy sees, and a reload lists new contracts, whose bars are then warmed up and streamed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hostkit import temp_host

from ats.host.main import Host
from ats.ib import adapter
from ats.sdk import BarSpec, Params, Strategy

NOV, DEC, JAN = "20261118", "20261216", "20270120"


def listing(*expiries: str) -> list[Any]:
    return [SimpleNamespace(contract=adapter.Contract(
        secType="FUT", symbol="VXM", tradingClass="VXM", exchange="CFE", multiplier="100",
        lastTradeDateOrContractMonth=e, conId=1000 + i)) for i, e in enumerate(expiries)]


class FakeIB:
    """What a host asks of the client library here: chains, history, real-time bars."""

    def __init__(self) -> None:
        self.listed = listing(NOV, DEC)
        self.streamed: list[int] = []

    async def reqContractDetailsAsync(self, contract: Any) -> list[Any]:
        return list(reversed(self.listed))  # not in expiry order, as a venue may send them

    async def reqHistoricalDataAsync(self, contract: Any, **kw: Any) -> list[Any]:
        return []

    def reqRealTimeBars(self, contract: Any, *args: Any) -> Any:
        self.streamed.append(contract.conId)
        return adapter.ib.RealTimeBarList()


class Front2(Strategy[Params]):
    """Bars of the two nearest listed contracts."""

    params_type = Params
    futures_symbols = ("VXM",)

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(f, "1d", 0) for f in self.ctx.futures_chain("VXM")[:2]]

    def on_start(self) -> None:
        pass


@pytest.fixture
def host() -> Iterator[Host]:
    with temp_host("front2") as h:
        h.ib = FakeIB()
        h.strategy = Front2("front2", Params(), h.ctx)
        yield h


def at(host: Host, day: str) -> None:
    host.clock.sync(pd.Timestamp(f"{day}T15:00:00Z").timestamp())
    host.clock.speed = 0.0


def test_the_chain_is_in_expiry_order_with_each_contract_matched_to_its_own_details(
        host: Host) -> None:
    at(host, "2026-11-02")
    assert host.strategy is not None
    asyncio.run(host.feed.load_chains(host.strategy))
    chain = host.ctx.futures_chain("VXM")
    assert [i.expiry for i in chain] == [NOV, DEC]
    assert [host.contracts.by_key[i.key].lastTradeDateOrContractMonth for i in chain] == [NOV, DEC]


def test_an_expired_contract_leaves_the_chain_the_strategy_sees(host: Host) -> None:
    at(host, "2026-11-02")
    assert host.strategy is not None
    asyncio.run(host.feed.load_chains(host.strategy))
    at(host, "2026-11-19")  # the day after November's expiry
    assert [i.expiry for i in host.ctx.futures_chain("VXM")] == [DEC]


def test_a_reload_streams_the_bars_of_a_newly_listed_contract(host: Host) -> None:
    at(host, "2026-11-02")
    strategy = host.strategy
    assert strategy is not None

    async def run() -> None:
        await host.feed.load_chains(strategy)
        await host.feed.warm_up(strategy)
        host.feed.subscribe_bars()
        at(host, "2026-11-19")
        host.ib.listed = listing(NOV, DEC, JAN)
        await host.feed.refresh_chains(strategy)

    asyncio.run(run())
    assert host.ib.streamed == [1000, 1001, 1002]  # Nov and Dec at start, then Jan
    assert [i.expiry for i in host.ctx.futures_chain("VXM")] == [DEC, JAN]
