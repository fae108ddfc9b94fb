"""ats-broker: the master-clientId connection, the ledger, pre-trade risk and reconciliation.

It is the ledger's only writer. Every execution any client makes reaches it (the venue's master
clientId), is journalled locally before anything else happens (fsync), applied once by execId, and
flushed to ArcticDB in batches off the order path. After any (re)connect it sweeps
reqExecutions, so fills made while it was down or disconnected are recovered, and matches every
in-flight intent of the write-ahead log to what the venue knows.

This module holds one venue's desk (its state, venue events and loops); ats/broker/requests.py
its answers to requests; ats/broker/service.py the process: a desk per venue behind one ROUTER.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from ats import config as config_mod
from ats.broker import limits_store, order_store
from ats.broker.diskguard import MB, DiskGuard, DiskLevel, watched_paths
from ats.broker.history import HistoryService
from ats.broker.intents import (
    IntentLog,
    IntentStatus,
    KnownOrder,
    intent_status,
)
from ats.broker.ledger import UNATTRIBUTED, Ledger
from ats.broker.ledger_store import LIBRARY, LedgerStore, StorageFull
from ats.broker.order_store import DONE_ORDER_STATUSES, KEEP_DONE_ORDERS, OrderStore
from ats.broker.reconcile import reconcile
from ats.broker.requests import DeskRequests, number
from ats.broker.risk import Limits, RiskEngine
from ats.broker.syncer import BackgroundSync
from ats.broker.tradingstate import TradingStates
from ats.ib import adapter, parsing
from ats.ib.venueclock import VenueClock
from ats.orders import ref as orderref
from ats.processes import service_main
from ats.storage.arctic import open_arctic
from bus import topics
from bus.client import AsyncRequester
from bus.clone import CloneState
from bus.errors import RequestError
from bus.publisher import Publisher
from bus.service import Service

log = logging.getLogger("ats.broker")

#: A position difference must persist this many consecutive checks to count as a break:
#: a fill and the position update that follows it arrive as separate messages.
BREAK_CONFIRMATIONS = 2
#: How often equity-curve samples go to ArcticDB (one batched append each time).
EQUITY_WRITE_SECONDS = 30.0
DISK_CHECK_SECONDS = 1.0
#: codes that say how the venue connection fares: 1100/1101/1102, and the data farms'
VENUE_CODES = frozenset({adapter.CONNECTIVITY_LOST, adapter.RESTORED_DATA_LOST,
                         adapter.RESTORED_DATA_KEPT, *adapter.FARM_BROKEN, *adapter.FARM_OK})


def _by_strategy(topic: Callable[[str], str]) -> Callable[[str], str]:
    """Clone keys are "<strategy>|..." (plus "|<venue>" beyond the first venue); updates go out
    on the strategy's own topic."""
    return lambda key: topic(key.split("|", 1)[0])


@dataclasses.dataclass
class Wiring:
    """The broker process's side of the bus, shared by the desks of all its venues: one
    ROUTER, one publisher, and one clone state per snapshot (one sequence for its subscribers)."""

    zctx: zmq.asyncio.Context
    sync_zctx: zmq.Context[Any]
    publisher: Publisher
    service: Service
    manager: AsyncRequester
    positions: CloneState
    pnl: CloneState
    orders: CloneState
    account: CloneState

    @classmethod
    def open(cls, cfg: config_mod.Config) -> Wiring:
        zctx, sync_zctx, eps = zmq.asyncio.Context(), zmq.Context(), cfg.endpoints
        publisher = Publisher(sync_zctx, eps.publish, "broker")
        return cls(zctx, sync_zctx, publisher, Service(zctx, eps.broker, "broker"),
                   AsyncRequester(zctx, eps.manager, timeout=2.0),
                   CloneState(publisher, _by_strategy(topics.position), name="positions"),
                   CloneState(publisher, _by_strategy(topics.pnl), name="pnl"),
                   CloneState(publisher, _by_strategy(topics.order), name="orders"),
                   CloneState(publisher, topics.account(), name="account"))


def venue_state_dir(cfg: config_mod.Config, venue: Mapping[str, Any]) -> Path:
    """The first venue's journals stay where a one-venue system keeps them; a further venue's
    go under state/venues/NAME."""
    if venue["name"] == cfg.venue["name"]:
        return cfg.state_dir
    path = cfg.state_dir / "venues" / str(venue["name"])
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def ledger_library(cfg: config_mod.Config, venue: Mapping[str, Any]) -> str:
    """The ArcticDB library of a venue's ledger: one writer (its desk) per library."""
    return LIBRARY if venue["name"] == cfg.venue["name"] else f"{LIBRARY}-{venue['name']}"


class Broker(DeskRequests):
    """One venue's desk: its master connection, ledger, intents, risk and reconciliation.
    ats.broker.service routes the bus's requests to the desks of the [venue] and [[venues]]."""

    def __init__(self, cfg: config_mod.Config, venue: Mapping[str, Any] | None = None,
                 wiring: Wiring | None = None) -> None:
        self.cfg = cfg
        self.venue = dict(venue or cfg.venue)
        self.venue_name = str(self.venue["name"])
        self.primary = self.venue_name == cfg.venue["name"]
        #: process name of this desk's connection and alert topics
        self.process = "broker" if self.primary else f"broker-{self.venue_name}"
        #: the tail of this desk's `unattributed` clone keys (the one book every venue has); the
        #: first venue's keys are a one-venue system's
        self.key_tail = "" if self.primary else f"|{self.venue_name}"
        self.multi = len(cfg.venues) > 1
        bcfg = cfg.section("broker")
        self.flush_seconds = float(bcfg["flush_seconds"])
        self.equity_seconds = float(bcfg["equity_sample_seconds"])
        self.reconcile_seconds = float(bcfg["reconcile_seconds"])
        self.sync_approvals = bool(bcfg["sync_approvals"])
        state = venue_state_dir(cfg, self.venue)
        self.store = LedgerStore(state / "ledger", cfg.arctic_uri,
                                 arctic=open_arctic(cfg.arctic_uri),
                                 library=ledger_library(cfg, self.venue))
        self.ledger = Ledger()
        executions, commissions = self.store.load()
        self.ledger.replay(executions, commissions)
        self.intents = IntentLog(state / "intents.jsonl")
        self.states = TradingStates.load(state / "trading-state.json")
        risk = cfg.section("risk")
        self.risk = RiskEngine(Limits.from_mapping(risk["account"]),
                               default_strategy_limits=Limits.from_mapping(risk["default"]))
        self.limits_path = state / "risk-limits.json"
        self.changed_limits = limits_store.load(self.limits_path)
        for scope, limits in self.changed_limits.items():
            self.risk.set_limits(scope, limits)
            log.info("risk limits of %s as set at runtime: %s", scope or "the account",
                     limits.to_mapping())
        self.wiring = wiring = wiring or Wiring.open(cfg)
        self.zctx, self.sync_zctx = wiring.zctx, wiring.sync_zctx
        self.publisher, self.service, self.manager = (wiring.publisher, wiring.service,
                                                      wiring.manager)
        self.positions, self.pnl = wiring.positions, wiring.pnl
        self.orders, self.account = wiring.orders, wiring.account
        self.ib = adapter.IB()
        self.connected = False
        self.venue_since = time.time()  #: when `connected` last changed
        self.clock = VenueClock(float(cfg.section("sim")["speed"])
                                if self.venue["kind"] == "sim" else 1.0)
        self.venue_code: int | None = None  #: the last connectivity or farm code from the venue
        self.stop_event = asyncio.Event()
        self.suspects: dict[int, int] = {}  #: con_id -> consecutive mismatches
        self.breaks: dict[int, dict[str, Any]] = {}
        self.registered: set[str] = set()  #: the registry's strategy names, as last listed
        self.storage_error: str | None = None
        self.disk = DiskGuard(watched_paths(state, cfg.arctic_uri),
                              int(bcfg["disk_soft_mb"]) * MB, int(bcfg["disk_hard_mb"]) * MB)
        self.disk_level = DiskLevel.OK
        self.check_disk()
        self._unpublished: list[tuple[str, str]] = []  #: (fill topic, exec_id) to publish
        self._dirty_books: set[tuple[str, int]] = set()
        self._commit_scheduled = False
        self._done_orders: dict[str, None] = {}  #: finished order keys, oldest first
        # Before the venue sync at connect(): the venue's reports update these rows.
        self.order_store = OrderStore(state / order_store.FILE)
        for key, row in self.order_store.load().items():
            self._put_order(key, row)
        self.syncer = BackgroundSync([self.store.flush, self.intents.flush],
                                     on_error=self._sync_failed)
        self._loop: asyncio.AbstractEventLoop | None = None
        #: the hosts' warm-up bars: the market_data cache, then this connection, paced
        self.history = HistoryService(self.ib, cfg.arctic_uri,
                                      str(cfg.section("data")["library"]), self.clock.speed,
                                      self.clock.now)
        log.info("%s: ledger loaded: %d executions, %d strategies", self.process,
                 len(executions), len(self.ledger.strategies()))

    # -- ledger input -----------------------------------------------------------------------

    def _set_order(self, order_ref: str, strategy: str, row: dict[str, Any]) -> None:
        self._put_order(self.clone_key(strategy, order_ref), row)

    def clone_key(self, strategy: str, *rest: str) -> str:
        """A row's key in the clones the desks share: "<strategy>|..."; a strategy trades on
        one venue, but every venue has an `unattributed` book."""
        tail = self.key_tail if strategy == UNATTRIBUTED else ""
        return "|".join((strategy, *rest)) + tail

    def own_orders(self) -> dict[str, dict[str, Any]]:
        """This venue's rows of the order clone the desks share."""
        if not self.multi:
            return self.orders.state
        return {k: r for k, r in self.orders.state.items() if r.get("venue") == self.venue_name}

    def _put_order(self, key: str, row: dict[str, Any]) -> None:
        if self.multi:
            row = {**row, "venue": self.venue_name}
        self.orders.set(key, row)
        self.order_store.mark_dirty(key)
        if row["status"] in DONE_ORDER_STATUSES and key not in self._done_orders:
            # Finished orders stay visible for a while; the ledger keeps their fills for good.
            self._done_orders[key] = None
            while len(self._done_orders) > KEEP_DONE_ORDERS:
                oldest = next(iter(self._done_orders))
                del self._done_orders[oldest]
                self.orders.delete(oldest)

    def record_fill(self, fill: adapter.Fill) -> None:
        """Journal then apply one execution (and its commission when known). Idempotent.

        Nothing is published about a fill before its journal record is written; the fsync
        follows in the background (ats/broker/syncer.py)."""
        exec_id = fill.execution.execId
        report = fill.commissionReport
        if self.ledger.has_execution(exec_id) and (
                self.ledger.has_commission(exec_id) or report is None or not report.execId):
            return
        e = parsing.execution(fill)
        fresh = not self.ledger.has_execution(e.exec_id)
        if fresh:
            try:
                self.store.record_execution(e, sync=False)
            except StorageFull as exc:
                self._storage_failed(exc)
                return
            self.ledger.apply_execution(e)
            strategy = self.ledger.attribute(e)
            self._unpublished.append((topics.fill(strategy), e.exec_id))
            log.info("fill %s %s %s %g @ %g (%s)", e.exec_id, strategy, e.side, e.shares,
                     e.price, e.order_ref or f"clientId {e.client_id}")
        changed = fresh
        if report is not None and report.execId:
            c = parsing.commission(report)
            if self.ledger.has_execution(c.exec_id) and not self.ledger.has_commission(c.exec_id):
                try:
                    self.store.record_commission(c, sync=False)
                except StorageFull as exc:
                    self._storage_failed(exc)
                    return
                self.ledger.apply_commission(c)
                changed = True
        if changed:
            self._dirty_books.add((self.ledger.attribute(e), e.con_id))
            if not self._commit_scheduled:
                self._commit_scheduled = True
                asyncio.get_running_loop().call_soon(self._commit)

    def _commit(self) -> None:
        """Publish a batch's fills and changed books once, after their journal writes."""
        self._commit_scheduled = False
        self.syncer.request()
        unpublished, self._unpublished = self._unpublished, []
        for topic, exec_id in unpublished:
            # the ledger's own row, versioned: the same fields as `ats-ctl fills` and the
            # REPL's snapshot
            for event in self.ledger.fill_events([exec_id]):
                self.publisher.publish(topic, event.bus_type, event.encode())
        dirty, self._dirty_books = self._dirty_books, set()
        for strategy, con_id in dirty:
            self._publish_books(strategy, con_id)

    def _storage_failed(self, exc: BaseException) -> None:
        self.storage_error = str(exc)
        log.critical("LEDGER STORAGE FULL: %s; new orders are refused", exc)
        self.publisher.publish(topics.alert(self.process), "alert",
                               {"level": "CRITICAL", "message": f"ledger storage full: {exc}"})

    def _sync_failed(self, exc: BaseException) -> None:
        """The group commit's fsync failed, on its own thread: orders are refused from now on,
        and the alert goes out from the loop that owns the publisher's socket."""
        self.storage_error = str(exc)
        if self._loop is None:
            self._storage_failed(exc)
        else:
            self._loop.call_soon_threadsafe(self._storage_failed, exc)

    def _publish_books(self, strategy: str, con_id: int | None = None) -> None:
        venue = {"venue": self.venue_name} if self.multi else {}
        for row in self.ledger.position_rows(strategy, con_id):
            self.positions.set(self.clone_key(str(row["strategy"]), str(row["con_id"])),
                               {**row, **venue})
        self.pnl.set(self.clone_key(strategy), {**self.ledger.pnl_row(strategy), **venue})

    def sweep(self) -> int:
        """Apply every fill this connection knows; the ledger ignores those already recorded."""
        before = len(self.ledger.executions())
        for fill in list(self.ib.fills()):
            self.record_fill(fill)
        return len(self.ledger.executions()) - before

    async def recover(self) -> None:
        """After (re)connect: executions missed while down, then in-flight intents."""
        fills = await self.ib.reqExecutionsAsync(adapter.ExecutionFilter())
        for fill in fills:
            self.record_fill(fill)
        recovered = self.sweep()
        await self.ib.reqPositionsAsync()
        completed = await self.ib.reqCompletedOrdersAsync(apiOnly=False)
        open_known = [self._known(t) for t in self.ib.openTrades()]
        done_known = [self._known(t) for t in completed]
        for ref in [k.order_ref for k in open_known + done_known] + [
                e.order_ref for e in self.ledger.executions()]:
            parsed = orderref.parse(ref)
            if parsed is not None:
                self.intents.ensure_above(parsed[1])
        resolutions = self.intents.resolve(open_known, done_known, self.ledger.executions())
        for r in resolutions:
            lvl = logging.ERROR if r.status is IntentStatus.UNRESOLVED else logging.INFO
            log.log(lvl, "intent %d resolved as %s (filled %g)", r.intent_id, r.status, r.filled)
        log.info("recovery: %d executions known to the venue, %d intents resolved",
                 len(fills), len(resolutions))
        if recovered:
            log.warning("recovered %d executions missed while disconnected", recovered)

    @staticmethod
    def _known(trade: adapter.Trade) -> KnownOrder:
        return KnownOrder(order_ref=trade.order.orderRef or "", perm_id=int(trade.order.permId),
                          order_id=int(trade.order.orderId), status=trade.orderStatus.status,
                          filled=float(trade.orderStatus.filled))

    # -- venue events -----------------------------------------------------------------------

    def _on_exec(self, trade: adapter.Trade, fill: adapter.Fill) -> None:
        self.record_fill(fill)

    def _on_commission(self, trade: adapter.Trade, fill: adapter.Fill,
                       report: adapter.CommissionReport) -> None:
        self.record_fill(fill)

    def _on_order(self, trade: adapter.Trade) -> None:
        ref = trade.order.orderRef or ""
        parsed = orderref.parse(ref)
        strategy = parsed[0] if parsed else UNATTRIBUTED
        st = trade.orderStatus
        # a completed order (reqCompletedOrders) has its fills only in filledQuantity
        filled = max(float(st.filled), number(trade.order.filledQuantity) or 0.0)
        key = self.clone_key(strategy, ref or f"perm{trade.order.permId}")
        self._put_order(key, order_store.merge(self.orders.get(key), {
            "order_ref": ref, "strategy": strategy, "symbol": trade.contract.symbol,
            "con_id": trade.contract.conId, "side": trade.order.action,
            "quantity": float(trade.order.totalQuantity), "order_type": trade.order.orderType,
            "status": st.status, "filled": filled,
            "avg_price": float(st.avgFillPrice) if filled and st.avgFillPrice else None,
            "perm_id": trade.order.permId, "client_id": trade.order.clientId}))
        if parsed is not None:
            status = intent_status(st.status)
            rec = self.intents.get(parsed[1])
            if rec is not None and (rec.status is not status or
                                    rec.perm_id != trade.order.permId):
                self.intents.mark(parsed[1], status, durable=False, perm_id=trade.order.permId,
                                  order_id=trade.order.orderId, filled=float(st.filled))

    def _on_account_value(self, value: adapter.AccountValue) -> None:
        if value.tag in ("NetLiquidation", "TotalCashValue", "BuyingPower", "GrossPositionValue",
                         "RealizedPnL", "UnrealizedPnL", "AvailableFunds"):
            self.account.set(f"{value.tag}|{value.currency}{self.key_tail}", {
                "tag": value.tag, "currency": value.currency, "value": value.value,
                "account": value.account,
                **({"venue": self.venue_name} if self.multi else {})})

    def _on_portfolio(self, item: adapter.PortfolioItem) -> None:
        price = number(item.marketPrice)
        if price:
            self.ledger.mark({int(item.contract.conId): price})

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected, self.venue_since = connected, time.time()

    def _on_error(self, req_id: int, code: int, msg: str,
                  contract: adapter.Contract | None = None) -> None:
        if code in VENUE_CODES:
            self.venue_code = code
        if code == adapter.CONNECTIVITY_LOST:
            self._set_connected(False)
            self.publisher.publish(topics.connection(self.process), "venue", {"state": "lost",
                                                                          "code": code})
        elif code in (adapter.RESTORED_DATA_LOST, adapter.RESTORED_DATA_KEPT):
            self._set_connected(True)
            self.publisher.publish(topics.connection(self.process), "venue", {"state": "connected",
                                                                          "code": code})
            asyncio.get_running_loop().create_task(self.recover())

    def _on_disconnected(self) -> None:
        if self.stop_event.is_set():
            return
        self._set_connected(False)
        log.warning("venue disconnected; reconnecting")
        self.publisher.publish(topics.connection(self.process), "venue", {"state": "disconnected"})
        asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        venue = self.venue
        await adapter.connect(self.ib, venue["host"], int(venue["port"]),
                              int(venue["master_client_id"]),
                              timeout=float(venue["connect_timeout"]),
                              account=str(venue["account"]), stop=self.stop_event)
        log.info("%s: connected to %s:%s as master clientId %s", self.process, venue["host"],
                 venue["port"], venue["master_client_id"])
        try:
            self.clock.sync((await self.ib.reqCurrentTimeAsync()).timestamp())
        except Exception as exc:
            log.warning("reqCurrentTime failed (%s): equity is stamped with this machine's "
                        "clock", exc)
        await self.recover()
        self._set_connected(True)
        self.publisher.publish(topics.connection(self.process), "venue", {"state": "connected"})
        for trade in self.ib.trades():
            self._on_order(trade)
        self.check_reconciliation()

    # -- loops ------------------------------------------------------------------------------

    def check_reconciliation(self) -> int:
        """Strategy books + unattributed must equal the account's position per contract."""
        if not self.connected and not self.ib.isConnected():
            return 0
        account: dict[int, float] = {}
        for pos in self.ib.positions():
            account[int(pos.contract.conId)] = account.get(int(pos.contract.conId), 0.0) + \
                float(pos.position)
        found = {b.con_id: b for b in reconcile(self.ledger.account_positions(), account)}
        for con_id, brk in found.items():
            self.suspects[con_id] = self.suspects.get(con_id, 0) + 1
            if self.suspects[con_id] >= BREAK_CONFIRMATIONS and con_id not in self.breaks:
                self.breaks[con_id] = {**brk.to_dict(),
                                       **({"venue": self.venue_name} if self.multi else {})}
                self.states.set_instrument_reducing(
                    con_id, f"reconciliation break: ledger {brk.ledger:g} vs account "
                            f"{brk.account:g}")
                log.error("RECONCILIATION BREAK conId %d: ledger %g, account %g", con_id,
                          brk.ledger, brk.account)
                self.publisher.publish(topics.reconcile(), "break", self.breaks[con_id])
                self.publisher.publish(topics.alert(self.process), "alert", {
                    "level": "ERROR", "message": f"reconciliation break on conId {con_id}: "
                    f"ledger {brk.ledger:g} vs account {brk.account:g}; REDUCING"})
        # REDUCING is persisted: a break from before a restart clears here too
        for con_id in sorted(set(self.suspects) | set(self.states.instruments)):
            if con_id not in found:
                self.suspects.pop(con_id, None)
                self.breaks.pop(con_id, None)
                if con_id in self.states.instruments:
                    self.states.clear_instrument(con_id)
                    log.warning("reconciliation break on conId %d resolved", con_id)
                    self.publisher.publish(topics.reconcile(), "resolved", {"con_id": con_id})
        return len(account)

    async def refresh_clients(self) -> None:
        """clientId -> strategy, from the registry, for executions without our orderRef."""
        try:
            entries = await self.manager.request("list", {})
        except RequestError:
            return
        first = self.cfg.venue["name"]
        entries = [e for e in entries if (e.get("venue") or first) == self.venue_name]
        self.registered = {str(e["name"]) for e in entries}
        for e in entries:
            self.ledger.set_client_strategy(int(e["client_id"]), str(e["name"]))

    async def periodic(self) -> None:
        last_equity = last_reconcile = last_clients = 0.0
        last_equity_write = time.monotonic()
        while not self.stop_event.is_set():
            now = time.monotonic()
            try:
                if self.ib.isConnected():
                    self.sweep()
                if now - last_clients > 10:
                    last_clients = now
                    await self.refresh_clients()
                if now - last_reconcile > self.reconcile_seconds and self.connected:
                    last_reconcile = now
                    self.check_reconciliation()
                if now - last_equity > self.equity_seconds:
                    last_equity = now
                    # The venue's time, like the fills': a simulator may run its own clock.
                    self.ledger.sample_equity(self.clock.now().timestamp())
                    for strategy in self.ledger.strategies():
                        self._publish_books(strategy)
                if now - last_equity_write > EQUITY_WRITE_SECONDS:
                    last_equity_write = now
                    await self.persist_equity()
            except Exception:
                log.exception("periodic work failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), 0.5)

    async def persist_equity(self) -> None:
        """Append the equity samples taken since the last call to ArcticDB, off the loop."""
        if not self.arctic_writable():
            return  # the samples stay in memory until there is room
        df = self.ledger.drain_equity()
        if len(df):
            await asyncio.to_thread(self.store.write_equity, df)

    def arctic_writable(self) -> bool:
        return self.disk_level is not DiskLevel.CRITICAL

    def check_disk(self) -> None:
        """Map free space to the account's guard state; say so when the level changes."""
        level, text = self.disk.check()
        if level is self.disk_level:
            return
        previous, self.disk_level = self.disk_level, level
        self.states.guard = (level.trading_state,
                             "" if level is DiskLevel.OK else f"disk {level}: {text}")
        if level is DiskLevel.OK:
            log.warning("disk space back (%s): trading no longer limited by disk", text)
            if self.storage_error:
                log.warning("ledger storage error cleared: %s", self.storage_error)
                self.storage_error = None
        else:
            log.critical("disk %s (%s): trading %s", level, text, level.trading_state)
        self.publisher.publish(topics.alert(self.process), "alert", {
            "level": "INFO" if level is DiskLevel.OK else "CRITICAL",
            "message": f"disk {previous} -> {level}: {text}; account trading "
                       f"{level.trading_state}"})

    async def disk_watch(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.check_disk()
            except OSError:
                log.exception("free-space check failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), DISK_CHECK_SECONDS)

    def _flush_failed(self, exc: BaseException) -> None:
        log.error("ArcticDB flush failed (the local journal keeps every record): %s", exc)

    def start(self) -> list[asyncio.Task[Any]]:
        """This desk's work on the running loop: venue events, background flushes, the disk
        watch, the order store, and (as its own task, so no venue waits for another) the
        connection, recovery and the periodic loop."""
        self._loop = asyncio.get_running_loop()
        self.ib.execDetailsEvent += self._on_exec
        self.ib.commissionReportEvent += self._on_commission
        self.ib.openOrderEvent += self._on_order
        self.ib.orderStatusEvent += self._on_order
        self.ib.accountValueEvent += self._on_account_value
        self.ib.updatePortfolioEvent += self._on_portfolio
        self.ib.errorEvent += self._on_error
        self.store.start_background(self.flush_seconds, on_error=self._flush_failed,
                                    may_write=self.arctic_writable)
        for strategy in self.ledger.strategies():
            self._publish_books(strategy)
        return [asyncio.create_task(self.disk_watch(), name=f"{self.process}-disk"),
                asyncio.create_task(self.order_store.run(self.own_orders, self.stop_event),
                                    name=f"{self.process}-orders"),
                asyncio.create_task(self.trade(), name=self.process)]

    async def trade(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.connect()
        self.ib.disconnectedEvent += self._on_disconnected
        await self.periodic()

    async def close(self) -> None:
        """After its tasks are cancelled: the venue let go, every journal and store closed."""
        self.ib.disconnect()
        self.order_store.save(self.own_orders())
        await self.persist_equity()
        self.syncer.close()
        self.store.close(flush=self.arctic_writable())
        self.intents.close()

    def _hb_info(self) -> dict[str, Any]:
        return {"venue": "connected" if self.connected else "disconnected",
                "venue_since": self.venue_since, "venue_code": self.venue_code,
                "disk": str(self.disk_level),
                "executions": len(self.ledger.executions()), "breaks": len(self.breaks),
                "pending_flush": self.store.pending}


def main(argv: list[str] | None = None) -> None:
    from ats.broker.service import BrokerProcess

    service_main("ats-broker", __doc__, BrokerProcess, argv)
