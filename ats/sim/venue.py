"""The simulated broker: accounts, orders, executions and the matching loop.

The venue knows nothing of sockets; it reports what happened to a `VenueSink`
(the server), which turns events into TWS messages for the right clients.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Protocol

from ats.orders.fills import split_exec_id
from ats.sim import groups
from ats.sim.account import STOCK_MARGIN, Account, BookedFill
from ats.sim.clock import SimClock
from ats.sim.commissions import fill_commission
from ats.sim.hours import CalendarHours, Hours
from ats.sim.market import Market, Quote
from ats.sim.orders import (
    OrderStatus,
    SimExecution,
    SimOrder,
    latest_versions,
    match,
    validate,
)
from ats.sim.universe import FX_TO_USD, Instrument, Universe

log = logging.getLogger("ats.sim.venue")

FIRST_PERM_ID = 1_000_001


class VenueSink(Protocol):
    def order_changed(self, order: SimOrder, inst: Instrument) -> None: ...
    def order_filled(self, order: SimOrder, execution: SimExecution, inst: Instrument) -> None: ...
    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None: ...


class NullSink:
    def order_changed(self, order: SimOrder, inst: Instrument) -> None:
        pass

    def order_filled(self, order: SimOrder, execution: SimExecution, inst: Instrument) -> None:
        pass

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        pass


class Venue:
    def __init__(self, universe: Universe, market: Market, clock: SimClock,
                 accounts: list[str], cash: float, check_funds: bool = False) -> None:
        self.universe = universe
        self.market = market
        self.clock = clock
        self.accounts = {a: Account(a, {"USD": cash}) for a in accounts}
        self.account_names = list(accounts)
        self.check_funds = check_funds
        self.orders: dict[tuple[int, int], SimOrder] = {}  #: (clientId, orderId) -> order
        self.working: dict[tuple[int, int], SimOrder] = {}  #: the orders not done
        self.executions: list[SimExecution] = []
        self.max_order_id = 0
        self.next_perm_id = FIRST_PERM_ID
        self.sink: VenueSink = NullSink()
        self.reject_next: str | None = None
        self.dirty = False  #: state changed since last save
        self.accounts_changed = False  #: fills since last account push
        self._liquidity: dict[tuple[int, str, int], float] = {}
        self.hours: Hours = CalendarHours(market)  #: when orders execute and DAY orders end
        self._deferred: list[groups.Reduce] = []  #: OCA reductions without block, step's end

    @property
    def next_order_id(self) -> int:
        return self.max_order_id + 1

    def instrument(self, con_id: int) -> Instrument | None:
        inst = self.universe.by_con_id(con_id)
        if inst is None:
            self.universe.futures(self.clock.today())
            inst = self.universe.by_con_id(con_id)
        return inst

    def price(self, inst: Instrument) -> float:
        return self.market.mid(inst, self.clock.timestamp())

    # ---- orders ---------------------------------------------------------------------
    def place(self, order: SimOrder, inst: Instrument) -> None:
        key = (order.client_id, order.order_id)
        existing = self.orders.get(key)
        if existing is not None:
            if existing.is_done:
                self.sink.order_error(order.client_id, order.order_id, 103, "Duplicate order id")
                return
            self._modify(existing, order, inst)
            return
        if not order.account:
            order.account = self.account_names[0]
        reason = validate(order)
        if reason is None and order.account not in self.accounts:
            reason = f"Invalid account: {order.account}"
        if reason is None and not inst.tradable:
            reason = f"Contract is not tradable: {inst.symbol} {inst.sec_type}"
        if reason is None and self.reject_next is not None:
            reason, self.reject_next = self.reject_next, None
        if reason is None and self.check_funds and order.action == "BUY":
            reason = self._funds_problem(order, inst)
        if reason is None:
            reason = self._link_problem(order)
        self.max_order_id = max(self.max_order_id, order.order_id)
        if reason is not None:
            log.info("order rejected client=%s order=%s reason=%s",
                     order.client_id, order.order_id, reason)
            self.sink.order_error(order.client_id, order.order_id, 201,
                                  f"Order rejected - reason:{reason}")
            return
        order.perm_id = self.next_perm_id
        self.next_perm_id += 1
        order.created = self.clock.timestamp()
        order.expires = self._expiry(order, inst)
        order.held = not order.transmit
        order.status = OrderStatus.PRE_SUBMITTED if order.held else OrderStatus.SUBMITTED
        self.orders[key] = order
        self.working[key] = order
        self.dirty = True
        log.info("order placed client=%s order=%s perm=%s %s %s %s %s lmt=%s aux=%s ref=%s "
                 "tif=%s parent=%s transmit=%s oca=%s/%s outsideRth=%s", order.client_id,
                 order.order_id, order.perm_id, order.action, order.total_qty, inst.symbol,
                 order.order_type, order.lmt_price, order.aux_price, order.order_ref, order.tif,
                 order.parent_id, order.transmit, order.oca_group, order.oca_type,
                 order.outside_rth)
        if not order.held:  # a held order is only kept: nothing is sent until transmitted
            self._transmit(order)

    def _link_problem(self, order: SimOrder) -> str | None:
        if order.oca_type not in groups.OCA_TYPES:
            return f"Invalid OCA type: {order.oca_type}"
        if not order.parent_id:
            return None
        parent = self.orders.get((order.client_id, order.parent_id))
        if parent is None or parent.parent_id:
            return f"Parent order {order.parent_id} is not found"
        if parent.is_done and parent.status != OrderStatus.FILLED:
            return f"Parent order {order.parent_id} is {parent.status}"
        return None

    def _expiry(self, order: SimOrder, inst: Instrument) -> float:
        if order.tif not in ("DAY", ""):
            return 0.0
        return self.hours.day_end(inst, order.created, order.outside_rth)

    def _transmit(self, order: SimOrder) -> None:
        """Send out `order` with the held orders of its bracket (parent first), then let the
        ones that may trade match."""
        group = [o for o in groups.group_of(order, self.working.values())
                 if o.held or o is order]
        for o in group:
            o.held = False
            parent = self.orders.get((o.client_id, o.parent_id)) if o.parent_id else None
            o.status = groups.waiting_status(o, parent)
            self._changed(o)
        for o in group:
            self._work(o)
        self._apply_deferred()

    def _work(self, order: SimOrder) -> None:
        """Match an order that has just gone to work; an IOC order's unfilled rest is then
        cancelled."""
        inst = self.instrument(order.con_id)
        if inst is not None:
            self._match_one(order, inst, self.clock.timestamp())
        if order.tif == "IOC" and order.status == OrderStatus.SUBMITTED:
            self._cancel(order, "immediate or cancel")

    def _changed(self, order: SimOrder) -> None:
        inst = self.instrument(order.con_id)
        if inst is not None:
            self.sink.order_changed(order, inst)

    def _funds_problem(self, order: SimOrder, inst: Instrument) -> str | None:
        acc = self.accounts[order.account]
        s = acc.summary(self.instrument, self.price)
        px = order.lmt_price or self.price(inst)
        need = order.total_qty * px * inst.multiplier * FX_TO_USD.get(inst.currency, 1.0)
        need = need * STOCK_MARGIN if inst.sec_type != "FUT" else order.total_qty * 15000.0
        if need > s["AvailableFunds"]:
            return (f"YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION "
                    f"YOUR EQUITY WITH LOAN VALUE [{s['EquityWithLoanValue']:.2f} USD] MUST "
                    f"EXCEED THE INITIAL MARGIN [{need:.2f} USD]")
        return None

    def _modify(self, existing: SimOrder, new: SimOrder, inst: Instrument) -> None:
        if new.con_id != existing.con_id or new.action != existing.action:
            self.sink.order_error(new.client_id, new.order_id, 105,
                                  "Order being modified does not match original order")
            return
        reason = validate(new)
        if reason is None and new.total_qty < existing.filled:
            reason = "Quantity is below the filled quantity"
        if reason is not None:
            self.sink.order_error(new.client_id, new.order_id, 201,
                                  f"Order rejected - reason:{reason}")
            return
        existing.total_qty = new.total_qty
        existing.order_type = new.order_type
        existing.lmt_price = new.lmt_price
        existing.aux_price = new.aux_price
        existing.tif = new.tif
        existing.order_ref = new.order_ref
        existing.outside_rth = new.outside_rth
        existing.expires = self._expiry(existing, inst)
        self.dirty = True
        log.info("order modified client=%s order=%s qty=%s type=%s lmt=%s aux=%s",
                 existing.client_id, existing.order_id, existing.total_qty,
                 existing.order_type, existing.lmt_price, existing.aux_price)
        if existing.remaining <= 0:
            self._finish(existing, OrderStatus.FILLED)
        if existing.held and new.transmit:
            self._transmit(existing)
            return
        if not existing.held:
            self.sink.order_changed(existing, inst)
        self._match_one(existing, inst, self.clock.timestamp())
        self._apply_deferred()

    def cancel(self, client_id: int, order_id: int) -> None:
        order = self.orders.get((client_id, order_id))
        if order is None:
            self.sink.order_error(client_id, order_id, 10147,
                                  f"OrderId {order_id} that needs to be cancelled is not found.")
            return
        if order.is_done:
            self.sink.order_error(client_id, order_id, 10148,
                                  f"OrderId {order_id} that needs to be cancelled cannot be "
                                  f"cancelled, state: {order.status}.")
            return
        self._cancel(order)

    def _cancel(self, order: SimOrder, why: str = "cancelled") -> None:
        """Cancel `order` and, first, the children still attached to it."""
        if order.is_done:
            return
        for child in groups.children_of(order, list(self.working.values())):
            self._cancel(child, f"parent {order.order_id} {why}")
        self._finish(order, OrderStatus.CANCELLED)
        log.info("order cancelled client=%s order=%s perm=%s (%s)",
                 order.client_id, order.order_id, order.perm_id, why)
        self._changed(order)
        self.sink.order_error(order.client_id, order.order_id, 202, "Order Canceled - reason:")

    def expire_day_orders(self) -> int:
        """Cancel the DAY orders whose session has closed, as a Gateway does at the close
        (orderStatus Cancelled and error 202). The number expired."""
        now = self.clock.timestamp()
        expired = [o for o in self.working.values() if o.expires and now >= o.expires]
        for order in expired:
            self._cancel(order, "expired at the session close")
        return len(expired)

    def global_cancel(self) -> None:
        for order in list(self.working.values()):
            self._cancel(order)

    def _finish(self, order: SimOrder, status: str) -> None:
        order.status = status
        order.completed_time = self.clock.timestamp()
        order.completed_status = status
        self.working.pop((order.client_id, order.order_id), None)
        self.dirty = True

    # ---- matching -------------------------------------------------------------------
    def step(self) -> None:
        """Expire the DAY orders of a closed session, then match every working order
        against the current market."""
        if not self.working:
            return
        self.expire_day_orders()
        now = self.clock.timestamp()
        self._liquidity.clear()
        for order in list(self.working.values()):
            inst = self.instrument(order.con_id)
            if inst is not None:
                self._match_one(order, inst, now)
        self._apply_deferred()

    def _match_one(self, order: SimOrder, inst: Instrument, now: float) -> None:
        if order.is_done or order.held or order.status != OrderStatus.SUBMITTED:
            return  # held, waiting for its parent's fill, or done
        if not self.hours.can_execute(inst, now, order.outside_rth):
            return  # outside its hours (regular, or extended with outsideRth): it waits
        quote = self.market.quote(inst, now)
        side = "ask" if order.action == "BUY" else "bid"
        lkey = (inst.con_id, side, int(now * 4))
        liquidity = self._liquidity.get(lkey)
        if liquidity is None:
            liquidity = quote.ask_size if side == "ask" else quote.bid_size
        result = match(order, quote, liquidity)
        if result is None:
            return
        qty, price = result
        self._liquidity[lkey] = liquidity - qty
        self._fill(order, inst, qty, price, now, quote)

    def _fill(self, order: SimOrder, inst: Instrument, qty: float, price: float, now: float,
              quote: Quote) -> None:
        acc = self.accounts[order.account]
        month = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m")
        mult = inst.multiplier
        commission = fill_commission(inst, order.filled, order.cum_value * mult, qty,
                                     qty * price * mult, acc.shares_this_month(month))
        realized = acc.apply_fill(inst, order.sign * qty, price, commission, month)
        order.filled += qty
        order.cum_value += qty * price
        order.last_fill_price = price
        order.commission += commission
        if order.remaining <= 1e-9:
            self._finish(order, OrderStatus.FILLED)
        seq = len(self.executions) + 1
        exe = SimExecution(
            exec_id=f"{order.perm_id:08x}.{seq:08x}.01.01", perm_id=order.perm_id,
            order_id=order.order_id, client_id=order.client_id, account=order.account,
            con_id=inst.con_id, side="BOT" if order.action == "BUY" else "SLD", shares=qty,
            price=price, time=now, cum_qty=order.filled, avg_price=round(order.avg_fill_price, 8),
            order_ref=order.order_ref, commission=commission, realized_pnl=realized,
            currency=inst.currency,
            exchange=inst.primary_exchange if inst.sec_type == "STK" else inst.exchange,
        )
        self.executions.append(exe)
        self.dirty = True
        self.accounts_changed = True
        log.info("fill client=%s order=%s perm=%s exec=%s %s %s %s @ %s comm=%s realized=%s",
                 order.client_id, order.order_id, order.perm_id, exe.exec_id, exe.side, qty,
                 inst.symbol, price, commission, realized)
        self.sink.order_filled(order, exe, inst)
        self._after_fill(order, qty)

    def _after_fill(self, order: SimOrder, qty: float) -> None:
        """A fill's effects on linked orders: OCA peers and bracket siblings are cancelled or
        reduced (with block: now; without: at the end of the step), and a filled parent's
        children go to work."""
        for r in groups.after_fill(order, qty, list(self.working.values())):
            if r.block:
                self._apply(r)
            else:
                self._deferred.append(r)
        if order.status == OrderStatus.FILLED:
            for child in groups.children_of(order, list(self.working.values())):
                if child.held or child.status != OrderStatus.PRE_SUBMITTED:
                    continue
                child.status = OrderStatus.SUBMITTED
                self.dirty = True
                log.info("order activated client=%s order=%s: parent %s filled",
                         child.client_id, child.order_id, order.order_id)
                self._changed(child)
                self._work(child)

    def _apply(self, r: groups.Reduce) -> None:
        order = r.order
        if order.is_done:
            return
        if r.cancels:
            self._cancel(order, "one-cancels-all")
            return
        order.total_qty = r.total_qty
        self.dirty = True
        log.info("order reduced client=%s order=%s to %s (one-cancels-all)",
                 order.client_id, order.order_id, order.total_qty)
        self._changed(order)

    def _apply_deferred(self) -> None:
        while self._deferred:
            self._apply(self._deferred.pop(0))

    # ---- corrections ----------------------------------------------------------------
    def correct_execution(self, exec_id: str, price: float | None = None,
                          shares: float | None = None,
                          commission: float | None = None) -> SimExecution:
        """Correct a trade as IB does: the latest version of `exec_id`'s execution is sent
        again with the next correction number and the corrected price and shares (unchanged
        when None), to the clients that got the original. The commission, unless given, is
        the original's per share. The account books the correction in place of the earlier
        version. KeyError for an unknown execution, ValueError for a bad price or quantity."""
        prefix, _ = split_exec_id(exec_id)
        history = latest_versions(self.executions)
        old = next((e for e in history if split_exec_id(e.exec_id)[0] == prefix), None)
        if old is None:
            raise KeyError(f"no execution {exec_id}")
        order, inst = self.orders[(old.client_id, old.order_id)], self.instrument(old.con_id)
        if inst is None:
            raise KeyError(f"unknown contract {old.con_id}")
        new_price = old.price if price is None else float(price)
        new_shares = old.shares if shares is None else float(shares)
        if not (new_price > 0 and new_shares > 0):
            raise ValueError(f"price and shares must be positive, got {new_price}, {new_shares}")
        commission = round(old.commission * new_shares / old.shares, 4) if commission is None \
            else float(commission)
        order.filled += new_shares - old.shares
        order.cum_value += new_shares * new_price - old.shares * old.price
        order.commission += commission - old.commission
        new = dataclasses.replace(
            old, exec_id=f"{prefix}.{split_exec_id(old.exec_id)[1] + 1:02x}", price=new_price,
            shares=new_shares, commission=commission, cum_qty=order.filled,
            avg_price=round(order.avg_fill_price, 8))
        same_book = [e for e in history if e.account == old.account and e.con_id == old.con_id]
        realized = self.accounts[old.account].rebook(
            inst, [_booked(e) for e in same_book],
            [_booked(new if e is old else e) for e in same_book])
        new.realized_pnl = round(realized[same_book.index(old)], 6)
        self.executions.append(new)
        self.dirty = self.accounts_changed = True
        log.info("correction exec=%s of %s: %s %s @ %s -> %s @ %s comm=%s", new.exec_id,
                 old.exec_id, inst.symbol, old.shares, old.price, new.shares, new.price,
                 new.commission)
        self.sink.order_filled(order, new, inst)  # the messages of a fill, to the same clients
        return new

    # ---- persistence ----------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "sim_time": self.clock.timestamp(),
            "max_order_id": self.max_order_id,
            "next_perm_id": self.next_perm_id,
            "accounts": [a.to_json() for a in self.accounts.values()],
            "orders": [o.to_json() for o in self.orders.values()],
            "executions": [e.to_json() for e in self.executions],
        }

    def load_json(self, data: dict[str, Any]) -> None:
        self.max_order_id = int(data["max_order_id"])
        self.next_perm_id = int(data["next_perm_id"])
        for a in data["accounts"]:
            acc = Account.from_json(a)
            self.accounts[acc.name] = acc
            if acc.name not in self.account_names:
                self.account_names.append(acc.name)
        for o in data["orders"]:
            order = SimOrder.from_json(o)
            key = (order.client_id, order.order_id)
            self.orders[key] = order
            if not order.is_done:
                self.working[key] = order
        self.executions = [SimExecution.from_json(e) for e in data["executions"]]


def _booked(e: SimExecution) -> BookedFill:
    month = dt.datetime.fromtimestamp(e.time, dt.UTC).strftime("%Y%m")
    return (e.shares if e.side == "BOT" else -e.shares), e.price, e.commission, month
