"""Orders: a strategy's orders from the broker's approval to their last status at the venue.

An order is placed only after the broker's risk approval (fail closed: without an answer it is
refused, never sent), under the orderRef the approval names; from then on the venue's order
events keep its handle current. After a restart this clientId's open orders are adopted, never
resent, and intents that were in flight wait for the venue for a grace period. The venue's
refusals are reported to the broker, whose master connection never sees them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterable
from decimal import Decimal
from typing import Any, Protocol

from ats.host.context import LiveContext
from ats.host.contracts import Contracts
from ats.host.gate import Gate
from ats.ib import adapter, parsing
from ats.ib import status as ib_status
from ats.ib.status import Phase
from ats.orders import ref as orderref
from ats.orders.contract import IN_FLIGHT_GRACE, ApprovalRequest, Decision
from ats.orders.intent import OrderIntent
from ats.sdk.orders import OrderHandle, OrderRequest, OrderStatus
from ats.stats.histogram import RoundTrips
from bus.client import AsyncRequester
from bus.errors import RequestError

log = logging.getLogger("ats.host")

#: what an IB status means for the strategy's order handle
HANDLE_STATUS = {
    Phase.PENDING: OrderStatus.PENDING_SUBMIT, Phase.WORKING: OrderStatus.SUBMITTED,
    Phase.FILLED: OrderStatus.FILLED, Phase.CANCELLED: OrderStatus.CANCELLED,
    Phase.REJECTED: OrderStatus.REJECTED,
}


class OrderHost(Protocol):
    """What Orders uses of the host process (ats.host.main.Host)."""

    @property
    def client_id(self) -> int: ...

    @property
    def venue(self) -> dict[str, Any]:
        """The venue this strategy trades on (its account)."""

    @property
    def ctx(self) -> LiveContext: ...

    @property
    def ib(self) -> adapter.IB: ...

    @property
    def broker(self) -> AsyncRequester: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None: ...


class Orders:
    """The host's OrderRouter (ats.host.context)."""

    def __init__(self, host: OrderHost, name: str, contracts: Contracts, gate: Gate) -> None:
        self.host, self.name = host, name
        self.contracts = contracts
        self.gate = gate
        self.trades: dict[str, adapter.Trade] = {}  #: local_id -> ib Trade
        #: each order's latency to approval, venue acknowledgement and fill (heartbeat info)
        self.round_trips = RoundTrips()

    def in_flight(self) -> int:
        """Orders asked for that the venue has not acknowledged yet (awaiting the broker's
        approval or the venue's first status)."""
        return sum(h.status == OrderStatus.PENDING_SUBMIT for h in self.host.ctx.handles.values())

    # -- OrderRouter ------------------------------------------------------------------------

    def refusal(self, req: OrderRequest) -> str | None:
        return self.gate.refusal(req)

    def place(self, handle: OrderHandle) -> None:
        self.host.spawn(self.send(handle), f"place {handle.local_id}")

    def cancel(self, handle: OrderHandle) -> None:
        trade = self.trades.get(handle.local_id)
        if trade is not None and handle.status in OrderStatus.ACTIVE:
            self.host.ib.cancelOrder(trade.order)

    def modify(self, handle: OrderHandle, quantity: float | None, limit: float | None,
               stop: float | None) -> None:
        trade = self.trades.get(handle.local_id)
        if trade is None or handle.status not in OrderStatus.ACTIVE:
            log.warning("cannot modify %s (%s)", handle.local_id, handle.status)
            return
        order = trade.order
        if quantity is not None:
            order.totalQuantity = abs(quantity)
        if limit is not None:
            order.lmtPrice = limit
        if stop is not None:
            order.auxPrice = stop
        self.host.ib.placeOrder(trade.contract, order)

    def cancel_all(self) -> int:
        n = 0
        for handle in self.host.ctx.open_orders():
            self.cancel(handle)
            n += 1
        return n

    # -- placing ----------------------------------------------------------------------------

    async def send(self, handle: OrderHandle) -> None:
        """Ask the broker's approval, then place the order at the venue under its orderRef."""
        ctx = self.host.ctx
        req = handle.request
        try:
            contract = await self.contracts.qualify(req.instrument)
        except Exception as exc:
            ctx.reject(handle, f"cannot qualify {req.instrument.key}: {exc}")
            return
        approval = ApprovalRequest(
            strategy=self.name, con_id=contract.conId, symbol=contract.symbol,
            sec_type=contract.secType, side="BUY" if req.quantity > 0 else "SELL",
            quantity=abs(req.quantity), order_type=req.order_type, limit_price=req.limit,
            stop_price=req.stop, tif=req.tif, multiplier=req.instrument.multiplier,
            ref_price=ctx.last_prices.get(req.instrument.key) or req.limit or req.stop or 0.0,
            client_id=self.host.client_id)
        self.round_trips.sent(handle.local_id, time.monotonic())
        # Fail closed: without the broker's approval nothing leaves.
        try:
            decision = Decision.decode(
                await self.host.broker.request("approve", approval.encode(), timeout=5.0))
        except RequestError as exc:
            self.round_trips.forget(handle.local_id)
            ctx.reject(handle, f"risk check unavailable ({exc.code}): {exc.message}")
            return
        except ValueError as exc:
            self.round_trips.forget(handle.local_id)
            ctx.reject(handle, f"risk check unreadable: {exc}")
            return
        if not decision.approved or decision.order_ref is None:
            self.round_trips.forget(handle.local_id)
            ctx.reject(handle, decision.reason or "rejected by risk")
            return
        self.round_trips.reached(handle.local_id, "approve", time.monotonic())
        order = adapter.Order(
            action=approval.side, totalQuantity=abs(req.quantity), orderType=req.order_type,
            tif=req.tif, orderRef=decision.order_ref,
        )
        if req.limit is not None:
            order.lmtPrice = req.limit
        if req.stop is not None:
            order.auxPrice = req.stop
        if self.host.venue["account"]:
            order.account = self.host.venue["account"]
        # The handle is now known by its orderRef: unique and stable across restarts.
        ctx.handles.pop(handle.local_id, None)
        self.round_trips.rename(handle.local_id, decision.order_ref)
        handle.local_id = decision.order_ref
        ctx.handles[handle.local_id] = handle
        trade = self.host.ib.placeOrder(contract, order)
        self.track(handle, trade)
        log.info("placed %s %s %g %s (%s)", order.action, contract.symbol,
                 order.totalQuantity, order.orderType, handle.local_id)

    # -- order events -----------------------------------------------------------------------

    def track(self, handle: OrderHandle, trade: adapter.Trade) -> None:
        self.trades[handle.local_id] = trade
        trade.statusEvent += lambda t: self.sync_handle(handle, t)

    def sync_handle(self, handle: OrderHandle, trade: adapter.Trade) -> None:
        st = trade.orderStatus
        known = ib_status.phase(st.status)
        status = handle.status if known is None else HANDLE_STATUS[known]
        sign = 1.0 if trade.order.action == "BUY" else -1.0
        if status == OrderStatus.SUBMITTED and st.filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        last = trade.log[-1] if trade.log else None
        # ib_async and ib_insync mark an order the venue refused (201) as Cancelled.
        if status == OrderStatus.CANCELLED and getattr(last, "errorCode", 0) == \
                adapter.ORDER_REJECTED:
            status = OrderStatus.REJECTED
        self._time_round_trip(handle.local_id, status)
        changed = status != handle.status or sign * st.filled != handle.filled
        rejected = status == OrderStatus.REJECTED and handle.status != OrderStatus.REJECTED
        handle.status, handle.filled = status, sign * float(st.filled)
        handle.avg_price = float(st.avgFillPrice or 0.0)
        if status == OrderStatus.REJECTED and last is not None:
            handle.reason = last.message or handle.reason
        if rejected:
            self.host.spawn(self.report_rejection(handle), f"report rejection {handle.local_id}")
        if changed:
            self.host.ctx.notify(handle)

    def _time_round_trip(self, ref: str, status: str) -> None:
        if status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            self.round_trips.reached(ref, "ack", time.monotonic())
        if status == OrderStatus.FILLED:
            self.round_trips.reached(ref, "fill", time.monotonic())
        elif status in OrderStatus.DONE:
            self.round_trips.forget(ref)

    async def report_rejection(self, handle: OrderHandle) -> None:
        """The broker's master connection never sees a refused order: tell it, so that the
        intent is resolved now rather than found UNRESOLVED at the next reconnect."""
        log.warning("order %s rejected by the venue: %s", handle.local_id, handle.reason)
        try:
            await self.host.broker.request("order_rejected", {"order_ref": handle.local_id,
                                                              "reason": handle.reason or ""})
        except RequestError as exc:
            log.error("could not report the rejection of %s to the broker (%s); its intent "
                      "is resolved at the broker's next recovery", handle.local_id, exc.message)

    async def recover(self) -> None:
        """After a gap: the order states missed (open and completed orders asked again)."""
        ib = self.host.ib
        await ib.reqOpenOrdersAsync()
        completed = await ib.reqCompletedOrdersAsync(apiOnly=True)
        done = {t.order.orderRef: t for t in completed if t.order.orderRef}
        for local_id, trade in list(self.trades.items()):
            handle = self.host.ctx.handles.get(local_id)
            if handle is not None:
                self.sync_handle(handle, done.get(local_id, trade))

    # -- adoption ---------------------------------------------------------------------------

    def adopt_open(self) -> None:
        """Take back this clientId's open orders after a restart; never resend them."""
        for trade in self.host.ib.openTrades():
            self.adopt(trade)

    def adopt(self, trade: adapter.Trade) -> None:
        ref = orderref.parse(trade.order.orderRef or "")
        local_id = trade.order.orderRef
        if ref is None or ref[0] != self.name or local_id in self.trades:
            return
        handles = self.host.ctx.handles
        handle = handles.get(local_id)
        if handle is None:
            inst = parsing.from_contract(trade.contract)
            qty = trade.order.totalQuantity * (1 if trade.order.action == "BUY" else -1)
            req = OrderRequest(inst, qty, trade.order.orderType,
                               _price(trade.order.lmtPrice), _price(trade.order.auxPrice),
                               trade.order.tif or "DAY")
            handle = OrderHandle(local_id=local_id, request=req, status=OrderStatus.SUBMITTED)
            handles[local_id] = handle
        self.track(handle, trade)
        self.sync_handle(handle, trade)
        log.info("re-adopted open order %s (%s %+g)", local_id,
                 handle.request.instrument.key, handle.request.quantity)

    def on_open_order(self, trade: adapter.Trade) -> None:
        """An order of ours the venue reports: adopt it if it was in flight at a restart."""
        if trade.order.orderRef in self.host.ctx.handles \
                and trade.order.orderRef not in self.trades:
            self.adopt(trade)

    async def expect_in_flight(self, intents: Iterable[OrderIntent]) -> None:
        """Approved intents not yet seen at the venue when this process started: they may
        still arrive, so the strategy sees them as UNRESOLVED open orders rather than placing
        them again. One that never arrives within the grace is given up, never resent."""
        handles = self.host.ctx.handles
        for intent in intents:
            ref = intent.order_ref
            if ref in handles:
                continue
            key = self.contracts.key_of.get(intent.con_id) or \
                await self.contracts.key_for_con_id(intent.con_id)
            if key is None:
                continue
            req = OrderRequest(self.contracts.instruments[key], intent.signed_quantity,
                               intent.order_type, intent.limit_price, intent.stop_price,
                               intent.tif or "DAY")
            handles[ref] = OrderHandle(local_id=ref, request=req, status=OrderStatus.UNRESOLVED)
            log.warning("order %s was in flight at the restart: waiting for the venue", ref)
            age = time.time() - intent.created
            self.host.spawn(self._give_up(ref, max(0.0, IN_FLIGHT_GRACE - age)),
                            f"in flight {ref}")

    async def _give_up(self, ref: str, delay: float) -> None:
        await asyncio.sleep(delay)
        handle = self.host.ctx.handles.get(ref)
        if handle is not None and handle.status == OrderStatus.UNRESOLVED \
                and ref not in self.trades:
            self.host.ctx.reject(handle, "in-flight order never reached the venue; not resent")


def _price(value: float | Decimal | None) -> float | None:
    return None if value is None or value == 0 or abs(float(value)) > 1e300 else float(value)
