"""The simulated broker: accounts, orders, executions and the matching loop.

The venue knows nothing of sockets; it reports what happened to a `VenueSink`
(the server), which turns events into TWS messages for the right clients.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Protocol

from ats.sim.account import STOCK_MARGIN, Account, BookedFill
from ats.sim.clock import SimClock
from ats.sim.commissions import fill_commission
from ats.sim.market import Market, Quote
from ats.sim.orders import (
    OrderStatus,
    SimExecution,
    SimOrder,
    latest_versions,
    match,
    split_exec_id,
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
        order.status = OrderStatus.SUBMITTED
        self.orders[key] = order
        self.working[key] = order
        self.dirty = True
        log.info("order placed client=%s order=%s perm=%s %s %s %s %s lmt=%s aux=%s ref=%s",
                 order.client_id, order.order_id, order.perm_id, order.action,
                 order.total_qty, inst.symbol, order.order_type, order.lmt_price,
                 order.aux_price, order.order_ref)
        self.sink.order_changed(order, inst)
        self._match_one(order, inst, self.clock.timestamp())

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
        self.dirty = True
        log.info("order modified client=%s order=%s qty=%s type=%s lmt=%s aux=%s",
                 existing.client_id, existing.order_id, existing.total_qty,
                 existing.order_type, existing.lmt_price, existing.aux_price)
        if existing.remaining <= 0:
            self._finish(existing, OrderStatus.FILLED)
        self.sink.order_changed(existing, inst)
        self._match_one(existing, inst, self.clock.timestamp())

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

    def _cancel(self, order: SimOrder) -> None:
        inst = self.instrument(order.con_id)
        self._finish(order, OrderStatus.CANCELLED)
        log.info("order cancelled client=%s order=%s perm=%s",
                 order.client_id, order.order_id, order.perm_id)
        if inst is not None:
            self.sink.order_changed(order, inst)
        self.sink.order_error(order.client_id, order.order_id, 202, "Order Canceled - reason:")

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
        """Match every working order against the current market."""
        if not self.working:
            return
        now = self.clock.timestamp()
        self._liquidity.clear()
        for order in list(self.working.values()):
            inst = self.instrument(order.con_id)
            if inst is not None:
                self._match_one(order, inst, now)

    def _match_one(self, order: SimOrder, inst: Instrument, now: float) -> None:
        if order.is_done:
            return
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
