"""The strategy's LiveContext sends its orders through any OrderRouter (ats.host.context), and
the host's Gate says why a new order may not leave (ats.host.gate): the context knows neither
the Host nor the broker."""

from __future__ import annotations

import asyncio

import pytest
from pinned import SESSION_TS

from ats.host.context import LiveContext, OrderRouter
from ats.host.gate import Gate
from ats.ib.venueclock import VenueClock
from ats.sdk.instrument import Index, Stock
from ats.sdk.orders import OrderHandle, OrderRequest, OrderStatus


class Router:
    """Records what the context asks of it; refuses with `refuse` when set."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.calls: list[tuple[str, str]] = []

    def refusal(self, req: OrderRequest) -> str | None:
        return self.refuse

    def place(self, handle: OrderHandle) -> None:
        self.calls.append(("place", handle.local_id))

    def cancel(self, handle: OrderHandle) -> None:
        self.calls.append(("cancel", handle.local_id))

    def modify(self, handle: OrderHandle, quantity: float | None, limit: float | None,
               stop: float | None) -> None:
        self.calls.append(("modify", f"{handle.local_id} {quantity} {limit} {stop}"))


def context(router: OrderRouter) -> LiveContext:
    clock = VenueClock(1.0, stepped=True)  # pinned: moves only when told
    clock.sync(SESSION_TS.timestamp())
    return LiveContext("routed", clock, router, {}, lambda: 0.0)


def test_an_order_the_router_accepts_is_placed_through_it_and_is_open() -> None:
    router = Router()
    ctx = context(router)
    handle = ctx.submit(OrderRequest(Stock("SPY"), 10, "LMT", limit=500.0))
    assert router.calls == [("place", handle.local_id)]
    assert handle.local_id.startswith("routed-") and handle.created == SESSION_TS
    assert ctx.open_orders() == [handle]
    ctx.modify(handle, limit=501.0)
    ctx.cancel(handle)
    assert router.calls[1:] == [("modify", f"{handle.local_id} None 501.0 None"),
                                ("cancel", handle.local_id)]


def test_an_order_the_router_refuses_is_rejected_with_its_reason_after_the_hook() -> None:
    router = Router(refuse="trading is HALTED for this strategy")
    ctx = context(router)
    told: list[tuple[str, str | None]] = []
    ctx.notify = lambda h: told.append((h.status, h.reason))

    async def submit() -> OrderHandle:
        handle = ctx.submit(OrderRequest(Stock("SPY"), 10))
        assert told == []  # not inside the strategy's hook that submitted it
        await asyncio.sleep(0)
        return handle

    handle = asyncio.run(submit())
    assert router.calls == []
    assert handle.status == OrderStatus.REJECTED
    assert told == [(OrderStatus.REJECTED, "trading is HALTED for this strategy")]
    assert ctx.open_orders() == []


@pytest.mark.parametrize("gate, reason", [
    (Gate(venue_state="lost", book_synced=True), "venue lost: new orders are refused"),
    (Gate(venue_state="connected"), "book not yet loaded from the broker"),
    (Gate(venue_state="connected", book_synced=True, data_ok=False), "market data farm down"),
    (Gate(venue_state="connected", book_synced=True, trading_state="HALTED"),
     "trading is HALTED"),
])
def test_the_gate_names_the_condition_that_refuses_an_order(gate: Gate, reason: str) -> None:
    refusal = gate.refusal(OrderRequest(Stock("SPY"), 10))
    assert refusal is not None and refusal.startswith(reason)


def test_the_gate_lets_a_tradable_order_pass_once_connected_and_booked() -> None:
    gate = Gate(venue_state="connected", book_synced=True, trading_state="REDUCING")
    assert gate.refusal(OrderRequest(Stock("SPY"), 10)) is None
    assert gate.refusal(OrderRequest(Index("VIX"), 1)) == "VIX.IND is not tradable"
