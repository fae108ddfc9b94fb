"""The strategy host books IB execution corrections like the broker's ledger: live, after a
restart whose book the broker seeded, and in the executions recovered after a gap.

A real Host on a temporary ATS_HOME; its venue and broker are stand-ins that hand it fills
shaped like ib_async's, and the book the broker's `book` request returns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hostkit import Recorder, temp_host

from ats.host.main import Host
from ats.orders.contract import BookedExecution, BookReply
from ats.sdk import Params

NAME = "corrected"
SPY_CON_ID = 756733
SPY = "SPY.STK"
FIRST, SECOND = "0000f4a5.00000001.01.01", "0000f4a5.00000001.01.02"


class Broker:
    def __init__(self, book: dict[str, Any]) -> None:
        self.book = book

    async def request(self, method: str, params: dict[str, Any],
                      timeout: float | None = None) -> dict[str, Any]:
        assert method == "book"
        return self.book


class Venue:
    """The calls recover() makes, answering with `executions`."""

    def __init__(self, executions: list[Any]) -> None:
        self.executions = executions

    async def reqExecutionsAsync(self, _filter: Any) -> list[Any]:
        return self.executions

    async def reqOpenOrdersAsync(self) -> list[Any]:
        return []

    async def reqCompletedOrdersAsync(self, apiOnly: bool) -> list[Any]:
        return []


def fill(exec_id: str, shares: float, price: float, commission: float) -> Any:
    execution = SimpleNamespace(execId=exec_id, orderRef=f"ats:{NAME}:1", shares=shares,
                                side="BOT", price=price, time=pd.Timestamp("2026-11-18 15:00"))
    return SimpleNamespace(execution=execution,
                           contract=SimpleNamespace(conId=SPY_CON_ID, multiplier="1"),
                           commissionReport=SimpleNamespace(execId=exec_id,
                                                            commission=commission))


def deliver(host: Host, f: Any) -> None:
    """As ib_async does live: execDetails, then its commission report."""
    host.book.on_exec(None, f)
    host.book.on_commission(None, f, f.commissionReport)


@pytest.fixture
def host() -> Iterator[Host]:
    with temp_host(NAME) as h:
        h.contracts.key_of[SPY_CON_ID] = SPY
        h.strategy = Recorder(NAME, Params(), h.ctx)
        yield h


def told(host: Host) -> list[tuple[float, float, float, bool]]:
    assert isinstance(host.strategy, Recorder)
    return [(f.quantity, f.price, f.commission, f.correction) for f in host.strategy.fills]


def test_a_live_correction_replaces_the_fill_in_the_book_and_is_told_as_a_correction(
        host: Host) -> None:
    deliver(host, fill(FIRST, 100, 10.0, 1.0))
    deliver(host, fill(SECOND, 80, 10.5, 0.8))
    assert host.ctx.positions() == {SPY: 80}
    assert host.ctx.cash() == pytest.approx(-80 * 10.5 - 0.8)
    assert told(host) == [(100, 10.0, 1.0, False), (80, 10.5, 0.8, True)]


def test_the_original_arriving_after_its_correction_changes_nothing(host: Host) -> None:
    deliver(host, fill(SECOND, 80, 10.5, 0.8))
    deliver(host, fill(FIRST, 100, 10.0, 1.0))
    assert host.ctx.positions() == {SPY: 80}
    assert host.ctx.cash() == pytest.approx(-80 * 10.5 - 0.8)
    assert told(host) == [(80, 10.5, 0.8, False)]


def test_recovery_skips_the_older_version_of_a_trade_the_broker_booked_corrected(
        host: Host) -> None:
    book = BookReply(positions=((SPY_CON_ID, 80.0),), cash=-840.8,
                     executions=(BookedExecution(SECOND, SPY_CON_ID, 80.0, 10.5, 1.0, 0.8),),
                     in_flight=(), trading_state="ACTIVE")
    host.broker = Broker(book.encode())  # type: ignore[assignment]
    host.ib = Venue([fill(FIRST, 100, 10.0, 1.0), fill(SECOND, 80, 10.5, 0.8)])

    async def restart() -> None:
        await host.book.sync()
        await host.book.recover()

    asyncio.run(restart())
    assert host.ctx.positions() == {SPY: 80}
    assert host.ctx.cash() == pytest.approx(-840.8)
    assert told(host) == []


def test_a_correction_of_a_fill_the_broker_booked_before_a_restart_replaces_it(
        host: Host) -> None:
    book = BookReply(positions=((SPY_CON_ID, 100.0),), cash=-1001.0,
                     executions=(BookedExecution(FIRST, SPY_CON_ID, 100.0, 10.0, 1.0, 1.0),),
                     in_flight=(), trading_state="ACTIVE")
    host.broker = Broker(book.encode())  # type: ignore[assignment]
    asyncio.run(host.book.sync())
    deliver(host, fill(FIRST, 100, 10.0, 1.0))  # the venue repeating it: already booked
    deliver(host, fill(SECOND, 80, 10.5, 0.8))
    assert host.ctx.positions() == {SPY: 80}
    assert host.ctx.cash() == pytest.approx(-80 * 10.5 - 0.8)
    assert told(host) == [(80, 10.5, 0.8, True)]
