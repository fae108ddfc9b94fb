"""Bookkeeper: the strategy's book as the broker's ledger and this connection's fills make it.

The book (positions, cash, the executions in it) is taken from the broker's ledger at start,
after each reconnect, and whenever something the venue does not tell this connection moved it
(a transfer, a fill of the broker's own order). From then on this connection's executions are
booked once per execId, corrections applied (ats.host.executions), and each reaches the
strategy's on_fill once, with its commission. After a gap the executions missed are asked
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import pandas as pd

from ats.host.context import LiveContext
from ats.host.contracts import Contracts
from ats.host.executions import Executions, Version, seeded
from ats.host.gate import Gate
from ats.host.orders import Orders
from ats.ib import adapter, parsing
from ats.orders import ref as orderref
from ats.orders.contract import BookReply
from ats.orders.events import IN, FillEvent
from ats.sdk.orders import Fill
from ats.sdk.strategy import Strategy
from bus.client import AsyncRequester
from bus.errors import RequestError

log = logging.getLogger("ats.host")


class BookHost(Protocol):
    """What the Bookkeeper uses of the host process (ats.host.main.Host)."""

    @property
    def client_id(self) -> int: ...

    @property
    def strategy(self) -> Strategy[Any] | None: ...

    @property
    def ib(self) -> adapter.IB: ...

    @property
    def broker(self) -> AsyncRequester: ...

    @property
    def stop_event(self) -> asyncio.Event: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None: ...

    def guard(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a strategy hook; its exception is counted, not raised."""


class Bookkeeper:
    def __init__(self, host: BookHost, name: str, ctx: LiveContext, contracts: Contracts,
                 orders: Orders, gate: Gate) -> None:
        self.host, self.name = host, name
        self.ctx = ctx
        self.contracts = contracts
        self.orders = orders
        self.gate = gate
        self.executions = Executions(ctx)  #: execIds in the book, corrections applied
        self.reported: set[str] = set()  #: execIds delivered to on_fill

    # -- the broker's book ------------------------------------------------------------------

    async def sync(self) -> None:
        """Seed the book from the broker's ledger for this strategy."""
        try:
            book = BookReply.decode(
                await self.host.broker.request("book", {"strategy": self.name}, timeout=5.0))
        except (RequestError, ValueError) as exc:
            why = exc.message if isinstance(exc, RequestError) else str(exc)
            log.warning("broker unavailable for the book (%s); orders stay refused until it "
                        "answers", why)
            self.gate.book_synced = False
            self.host.spawn(self._retry_sync(), "retry book")
            return
        positions: dict[str, float] = {}
        for con_id, qty in book.positions:
            key = self.contracts.key_of.get(con_id)
            if key is None:
                key = await self.contracts.key_for_con_id(con_id)
            if key is not None:
                positions[key] = qty
        self.ctx.reset_book(positions, book.cash)
        # The broker's ledger already holds these (each trade's latest version it knows):
        # neither re-booked nor re-reported; an older version is ignored, a newer one corrects.
        booked = seeded(book.executions, self.contracts.key_of)
        self.executions.seed(booked)
        self.reported |= {version.exec_id for version, _ in booked}
        self.gate.trading_state = book.trading_state
        await self.orders.expect_in_flight(book.in_flight)
        self.gate.book_synced = True

    async def resync(self) -> None:
        await self.sync()
        # Our own executions the broker had not yet booked when it answered come back here.
        await self.recover()

    async def _retry_sync(self) -> None:
        await asyncio.sleep(2.0)
        if not self.gate.book_synced and not self.host.stop_event.is_set():
            await self.sync()

    def apply_transfer(self, event: FillEvent) -> None:
        """The operator moved a position into or out of this strategy's book (`ats-ctl
        assign`): no execution says so, so the book is taken again from the broker; the
        strategy sees the new position through its context and manages it by its own rule."""
        leg = event.transfer
        assert leg is not None, "a transfer's fill event carries its leg"
        log.warning("transfer %s: %+g %s (conId %s) %s this book at %s by %s; taking the book "
                    "again from the broker", leg.transfer_id, leg.position_change,
                    event.symbol, event.con_id, "into" if event.side == IN else "out of",
                    event.price, leg.by)
        self.host.spawn(self.resync(), "book after a transfer")

    def apply_foreign_fill(self, event: FillEvent) -> None:
        """A fill of this strategy's that another connection's order made (the broker's
        flatten at a halt): the venue reports it only to the placing client and the master,
        so the broker's ledger row is all this host hears of it. The book is taken again
        from the broker and the strategy is told."""
        exec_id = event.exec_id
        if event.client_id == self.host.client_id or exec_id in self.reported \
                or self.executions.knows(exec_id):
            return
        self.reported.add(exec_id)
        log.info("fill %s of an order placed by clientId %s (%s): taking the book again "
                 "from the broker", exec_id, event.client_id, event.order_ref)
        self.host.spawn(self.resync(), "book after a foreign fill")
        key = self.contracts.key_of.get(event.con_id)
        strategy = self.host.strategy
        if key is None or strategy is None:
            return
        t = pd.Timestamp(event.time)
        fill = Fill(key, event.signed_shares, event.price, event.commission,
                    t.tz_localize("UTC") if t.tzinfo is None else t, event.order_ref)
        self.host.guard(strategy.handle_fill, fill)

    # -- this connection's executions -------------------------------------------------------

    def _ours(self, fill: adapter.Fill) -> bool:
        ref = orderref.parse(fill.execution.orderRef or "")
        return ref is None or ref[0] == self.name

    def _key_and_quantity(self, fill: adapter.Fill) -> tuple[str, float]:
        """The fill's instrument key and signed quantity (+ bought, - sold)."""
        key = self.contracts.key_of.get(fill.contract.conId) or \
            parsing.from_contract(fill.contract).key
        e = fill.execution
        return key, float(e.shares) if e.side == "BOT" else -float(e.shares)

    def _version(self, fill: adapter.Fill) -> Version:
        key, signed = self._key_and_quantity(fill)
        return Version(fill.execution.execId, int(fill.contract.conId), key, signed,
                       float(fill.execution.price), float(fill.contract.multiplier or 1))

    def _book_fill(self, fill: adapter.Fill) -> None:
        """Apply one of our executions to the book, once per execId; a correction replaces
        the version booked before (ats.host.executions)."""
        if self._ours(fill):
            self.executions.book(self._version(fill))

    def _report_fill(self, fill: adapter.Fill, commission: float) -> None:
        """Charge the commission and tell the strategy, once per execId and only for the
        version of a trade in the book (a correction is told with `Fill.correction`)."""
        e = fill.execution
        if not self._ours(fill):
            return
        self.executions.charge(e.execId, commission)
        if e.execId in self.reported or not self.executions.is_current(e.execId):
            return
        self.reported.add(e.execId)
        key, signed = self._key_and_quantity(fill)
        t = pd.Timestamp(e.time)
        fill_ = Fill(key, signed, float(e.price), commission,
                     t.tz_localize("UTC") if t.tzinfo is None else t, e.orderRef,
                     correction=self.executions.is_correction(e.execId))
        strategy = self.host.strategy
        if strategy is not None:
            self.host.guard(strategy.handle_fill, fill_)

    def on_exec(self, trade: adapter.Trade, fill: adapter.Fill) -> None:
        self._book_fill(fill)

    def on_commission(self, trade: adapter.Trade, fill: adapter.Fill,
                      report: adapter.CommissionReport) -> None:
        self._book_fill(fill)
        self._report_fill(fill, float(report.commission))

    async def recover(self) -> None:
        """After a gap (start, reconnect, 1101/1102): executions and order states missed."""
        fills = await self.host.ib.reqExecutionsAsync(
            adapter.ExecutionFilter(clientId=self.host.client_id))
        missed = 0
        for fill in fills:
            if not self.executions.knows(fill.execution.execId) and self._ours(fill):
                missed += 1
            self._book_fill(fill)
            if fill.commissionReport is not None and fill.commissionReport.execId:
                self._report_fill(fill, float(fill.commissionReport.commission))
        await self.orders.recover()
        if missed:
            log.warning("recovered %d executions missed during the gap", missed)
