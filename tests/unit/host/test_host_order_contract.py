"""The host speaks the order contract (ats.orders.contract): Orders asks with an ApprovalRequest
and places only under the orderRef a readable Decision names (an unreadable one is a refusal:
fail closed); the Bookkeeper reads the book as a BookReply, whose in-flight intents become
UNRESOLVED orders, and an unreadable one leaves orders refused. Fakes for the broker and the
venue; the real Orders, Bookkeeper, Contracts, Gate and LiveContext."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

from pinned import SESSION_TS

from ats.host.book import Bookkeeper
from ats.host.context import LiveContext
from ats.host.contracts import Contracts
from ats.host.gate import Gate
from ats.host.orders import Orders
from ats.ib.venueclock import VenueClock
from ats.orders.contract import ApprovalRequest, BookReply, Decision
from ats.orders.intent import OrderIntent
from ats.sdk.instrument import Stock
from ats.sdk.orders import OrderHandle, OrderRequest, OrderStatus

SPY = Stock("SPY")
SPY_CON_ID = 756733


class Event(list[Callable[..., None]]):
    def __iadd__(self, fn: Any) -> Event:
        self.append(fn)
        return self


class Venue:
    """What Orders and Contracts call on the IB client: records the orders placed."""

    def __init__(self) -> None:
        self.placed: list[tuple[Any, Any]] = []

    async def qualifyContractsAsync(self, contract: Any) -> list[Any]:
        return [SimpleNamespace(conId=SPY_CON_ID, symbol="SPY", secType="STK")]

    async def reqContractDetailsAsync(self, contract: Any) -> list[Any]:
        return []

    def placeOrder(self, contract: Any, order: Any) -> Any:
        self.placed.append((contract, order))
        return SimpleNamespace(order=order, contract=contract, statusEvent=Event())


class Broker:
    """Answers each request with `answers[method]`, recording what it was asked."""

    def __init__(self, **answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def request(self, method: str, params: dict[str, Any],
                      timeout: float | None = None) -> dict[str, Any]:
        self.asked.append((method, params))
        return self.answers[method]


class FakeHost:
    client_id = 17
    venue = {"account": ""}
    strategy = None

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.ib = Venue()
        self.stop_event = asyncio.Event()
        self.spawned: list[str] = []
        clock = VenueClock(1.0, stepped=True)
        clock.sync(SESSION_TS.timestamp())
        self.gate = Gate(venue_state="connected", book_synced=True)
        self.contracts = Contracts(self)
        self.orders = Orders(self, "probe", self.contracts, self.gate)
        self.ctx = LiveContext("probe", clock, self.orders, {}, lambda: 0.0)
        self.book = Bookkeeper(self, "probe", self.ctx, self.contracts, self.orders, self.gate)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        coro.close()
        self.spawned.append(name)

    def guard(self, fn: Callable[..., Any], *args: Any) -> None:
        fn(*args)


def send(host: FakeHost, req: OrderRequest) -> OrderHandle:
    async def run() -> OrderHandle:
        handle = OrderHandle(local_id="probe-1", request=req)
        host.ctx.handles[handle.local_id] = handle
        await host.orders.send(handle)
        await asyncio.sleep(0)  # a refusal is told after the current hook
        return handle

    return asyncio.run(run())


def test_the_host_asks_with_an_approval_request_and_places_under_the_decisions_ref() -> None:
    approved = Decision(True, "ok", "approved", None, intent_id=41, order_ref="ats:probe:41")
    host = FakeHost(Broker(approve=approved.encode()))
    host.ctx.last_prices[SPY.key] = 501.25
    handle = send(host, OrderRequest(SPY, -3, "LMT", limit=500.0))
    [(method, body)] = host.broker.asked
    assert method == "approve"
    assert ApprovalRequest.decode(body) == ApprovalRequest(
        strategy="probe", con_id=SPY_CON_ID, symbol="SPY", sec_type="STK", side="SELL",
        quantity=3.0, order_type="LMT", limit_price=500.0, stop_price=None, tif="DAY",
        multiplier=1.0, ref_price=501.25, client_id=17)
    [(_, order)] = host.ib.placed
    assert (order.action, order.totalQuantity, order.orderRef) == ("SELL", 3.0, "ats:probe:41")
    assert handle.local_id == "ats:probe:41" and host.ctx.handles[handle.local_id] is handle


def test_an_unreadable_decision_is_a_refusal_and_nothing_is_placed() -> None:
    host = FakeHost(Broker(approve={"approved": True, "code": "ok", "reason": "approved",
                                    "limit": None}))
    handle = send(host, OrderRequest(SPY, 3, "MKT"))
    assert host.ib.placed == []
    assert handle.status == OrderStatus.REJECTED
    assert handle.reason == "risk check unreadable: bad decision: approved without intent_id"


def test_a_refusal_is_passed_to_the_strategy_with_its_reason() -> None:
    refused = Decision(False, "max_order_qty", "max_order_qty: 3 > limit 1 (strategy probe)",
                       "max_order_qty")
    host = FakeHost(Broker(approve=refused.encode()))
    handle = send(host, OrderRequest(SPY, 3, "MKT"))
    assert host.ib.placed == []
    assert (handle.status, handle.reason) == (OrderStatus.REJECTED, refused.reason)


def test_the_books_in_flight_intents_become_unresolved_orders() -> None:
    intent = OrderIntent(intent_id=9, strategy="probe", con_id=SPY_CON_ID, symbol="SPY",
                         sec_type="STK", side="SELL", quantity=2.0, order_type="LMT",
                         limit_price=499.0, stop_price=None, tif="GTC", multiplier=1.0,
                         ref_price=499.0, created=0.0)
    book = BookReply(positions=((SPY_CON_ID, 5.0),), cash=-2500.0, executions=(),
                     in_flight=(intent,), trading_state="REDUCING")
    host = FakeHost(Broker(book=book.encode()))
    host.contracts.add(SPY, SimpleNamespace(conId=SPY_CON_ID))
    host.gate.book_synced = False
    asyncio.run(host.book.sync())
    assert host.gate.book_synced and host.gate.trading_state == "REDUCING"
    assert (host.ctx.positions(), host.ctx.cash()) == ({SPY.key: 5.0}, -2500.0)
    handle = host.ctx.handles["ats:probe:9"]
    assert handle.status == OrderStatus.UNRESOLVED
    assert (handle.request.quantity, handle.request.limit, handle.request.tif) == \
        (-2.0, 499.0, "GTC")
    assert host.spawned == ["in flight ats:probe:9"]


def test_an_unreadable_book_leaves_orders_refused_and_is_asked_again() -> None:
    host = FakeHost(Broker(book={"positions": [], "cash": 0.0, "executions": [],
                                 "in_flight": [], "trading_state": "PAUSED"}))
    host.gate.book_synced = False
    asyncio.run(host.book.sync())
    assert not host.gate.book_synced
    assert host.gate.refusal(OrderRequest(SPY, 1)) is not None
    assert host.spawned == ["retry book"]
