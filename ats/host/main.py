"""ats-strategy <name>: one strategy, one OS process, one IB clientId.

Lifecycle: fetch the registry entry from the manager, import and validate the strategy, connect
to the bus and to the venue with the entry's clientId, re-adopt this clientId's open orders, warm
up history, subscribe to 5-second real-time bars, then run the strategy on this process's asyncio
loop until SIGTERM. A fatal error exits non-zero so supervisord restarts the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zmq
import zmq.asyncio

from ats import config as config_mod
from ats.broker import orderref
from ats.broker.intents import IN_FLIGHT_GRACE
from ats.errors import Code
from ats.host import crashloop
from ats.host.context import LiveContext
from ats.host.errorlog import ErrorLog, HandlerError
from ats.host.executions import Executions, Version, seeded
from ats.host.feed import BarAggregator, is_forming
from ats.host.statefile import StateFile
from ats.host.ticks import TickStream
from ats.host.warmup import WarmUp, in_regular_hours
from ats.ib import adapter, parsing
from ats.ib import status as ib_status
from ats.ib.status import Phase
from ats.ib.venueclock import VenueClock
from ats.processes import BusLogHandler, install_stop_handlers, secure_bus, setup_logging
from ats.sdk.bars import BAR_SIZES, BarSpec
from ats.sdk.instrument import Instrument
from ats.sdk.loader import StrategyLoadError, load_strategy
from ats.sdk.orders import Fill, OrderHandle, OrderRequest, OrderStatus
from ats.sdk.params import ParamError
from ats.sdk.schedule import Sessions, keep_sessions_in, sessions
from ats.sdk.strategy import Strategy
from ats.sdk.ticks import Tick
from ats.sdk.weights import Weights
from ats.stats.histogram import RoundTrips
from bus import topics
from bus.client import AsyncRequester
from bus.errors import RequestError
from bus.heartbeat import Heartbeater
from bus.publisher import Publisher
from bus.subscriber import Subscriber

log = logging.getLogger("ats.host")

EXIT_CONFIG = 2
EXIT_STRATEGY = 3
EXIT_REGISTRY = 4
EXIT_CRASH = 1
#: A scheduled callback due at T runs once the venue's clock is this far past T (venue time; at
#: least BAR_ARRIVAL_WALL of wall time at the simulator's speed), so that the bars ending at T
#: have arrived and it sees them, as in a replay (ats/sdk/GUIDE.md, "What a callback sees"). A
#: stepped simulator's clock moves only with its bars, which are all in by then: no lag.
BAR_ARRIVAL = pd.Timedelta(seconds=5)
BAR_ARRIVAL_WALL = 0.05
#: wall seconds between two looks at the schedule when nothing falls due sooner
CLOCK_TICK = 1.0

#: what an IB status means for the strategy's order handle
HANDLE_STATUS = {
    Phase.PENDING: OrderStatus.PENDING_SUBMIT, Phase.WORKING: OrderStatus.SUBMITTED,
    Phase.FILLED: OrderStatus.FILLED, Phase.CANCELLED: OrderStatus.CANCELLED,
    Phase.REJECTED: OrderStatus.REJECTED,
}

#: stepped venue: the least wall time between two syncs with its clock (see clock_loop)
STEPPED_SYNC_GAP = 0.02


class Host:
    def __init__(self, cfg: config_mod.Config, name: str) -> None:
        self.cfg, self.name = cfg, name
        self.zctx = zmq.asyncio.Context()
        self.sync_zctx = zmq.Context()
        eps = cfg.endpoints
        self.publisher = Publisher(self.sync_zctx, eps.publish, name)
        self.manager = AsyncRequester(self.zctx, eps.manager, timeout=3.0)
        self.broker = AsyncRequester(self.zctx, eps.broker, timeout=3.0)
        self.ib: Any = adapter.IB()
        speed = float(cfg.section("sim")["speed"]) if cfg.venue["kind"] == "sim" else 1.0
        #: a stepped simulator: time moves only with its bars and its replies (see clock_loop)
        self.stepped = cfg.venue["kind"] == "sim" and cfg.section("sim")["clock"] == "stepped"
        self.clock = VenueClock(speed, stepped=self.stepped)
        self.schedule_lag = (pd.Timedelta(0) if self.stepped
                             else max(BAR_ARRIVAL, pd.Timedelta(seconds=speed * BAR_ARRIVAL_WALL)))
        self.ctx = LiveContext(self, self.clock)
        self.warm = WarmUp(self.broker, self.ib)  #: warm-up history through the broker
        self.ctx.notify = self._notify_status
        self.strategy: Strategy[Any] | None = None
        self.client_id = 0
        self.instruments: dict[str, Instrument] = {}
        self.contracts: dict[str, Any] = {}
        self.con_keys: dict[int, str] = {}
        self.aggregators: dict[str, BarAggregator] = {}
        self.warmed: dict[str, pd.Timestamp] = {}  #: key -> start of its last history bar
        self.regular_hours: set[str] = set()  #: keys whose bars come from sessions only
        self.rt_bars: list[Any] = []
        #: market data of the strategy's TickSpecs, coalesced into its on_tick
        self.ticks = TickStream(self.ib, lambda: self.clock.now(), self._on_tick)
        self.trades: dict[str, Any] = {}  #: local_id -> ib Trade
        self.executions = Executions(self.ctx)  #: execIds in the book, corrections applied
        self.reported: set[str] = set()  #: execIds delivered to on_fill
        self.venue_state = "connecting"
        self.data_ok = True
        self.trading_state = "ACTIVE"
        self.book_synced = False  #: positions seeded from the broker's ledger
        self.stop_event = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.state_file = StateFile(cfg.state_dir / f"strategy-{name}.json")
        #: exceptions of the strategy's handlers; [host] halt_after_errors of them in 5 minutes
        #: halt this strategy's trading
        self.errors = ErrorLog(int(cfg.section("host")["halt_after_errors"]))
        self.wall = time.time  #: the clock of error times (unix seconds); replaced in tests
        self._halting = False  #: a halt for errors is being asked of the broker
        #: started: from now on its state is saved (never a half-built one over a good file)
        self.strategy_running = False
        #: each order's latency to approval, venue acknowledgement and fill (heartbeat info)
        self.round_trips = RoundTrips()
        self.heartbeater = Heartbeater(self.publisher, self.name, info=self.hb_info)
        #: stepped: bars arrived or an order changed state, so clock_loop asks the venue's
        #: time now and beats (rather than a second later): a stepping test waits for that
        self.sync_wanted = asyncio.Event()
        #: stepped: the venue time of the last reqCurrentTime reply; every bar sent before it
        #: and every callback due by then is handled
        self.venue_synced: pd.Timestamp | None = None

    # -- helpers ----------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    def publish(self, family: str, type_: str, body: dict[str, Any]) -> None:
        self.publisher.publish(getattr(topics, family)(self.name), type_, body)

    def account_equity(self) -> float:
        for v in self.ib.accountValues():
            if v.tag == "NetLiquidation" and v.currency in ("USD", "BASE"):
                try:
                    return float(v.value)
                except ValueError:
                    continue
        return 0.0

    def hb_info(self) -> dict[str, Any]:
        return {"venue": self.venue_state, "client_id": self.client_id,
                "trading_state": self.trading_state, "data_ok": self.data_ok,
                "order_latency": self.round_trips.to_dict(),
                "venue_time": self.clock.now().isoformat(),
                "in_flight": self.in_flight(),
                **({"venue_synced": self.venue_synced.isoformat()}
                   if self.venue_synced is not None else {}),
                **self.ctx.snapshot(), **self.errors.info(self.wall())}

    def in_flight(self) -> int:
        """Orders asked for that the venue has not acknowledged yet (awaiting the broker's
        approval or the venue's first status)."""
        return sum(h.status == OrderStatus.PENDING_SUBMIT for h in self.ctx.handles.values())

    def _notify_status(self, handle: OrderHandle) -> None:
        if self.stepped:
            self.sync_wanted.set()
        self.publish("order", "order", {
            "local_id": handle.local_id, "status": handle.status, "filled": handle.filled,
            "avg_price": handle.avg_price, "reason": handle.reason,
            "instrument": handle.request.instrument.key, "quantity": handle.request.quantity,
            "created": handle.created.isoformat() if handle.created is not None else None,
        })
        if self.strategy is not None:
            self._guard(self.strategy.handle_order_status, handle)

    def _guard(self, fn: Any, *args: Any) -> None:
        """Run a strategy hook; a bug in it is logged and counted, not fatal to the process.
        Then save the strategy's state if the hook changed it."""
        try:
            fn(*args)
        except Exception as exc:
            self.strategy_raised(str(getattr(fn, "__name__", fn)), exc)
        self.save_state()

    def save_state(self) -> None:
        if self.strategy is None or not self.strategy_running:
            return
        try:
            self.state_file.save(self.strategy.save_state())
        except TypeError as exc:  # on_save returned something JSON cannot hold
            self.strategy_raised("on_save", exc)

    def strategy_raised(self, where: str, exc: Exception) -> None:
        """Count a handler's exception, log it with its text (the log line goes on the bus),
        and halt this strategy's trading when [host] halt_after_errors is reached (unless it
        is HALTED already)."""
        repeated = self.errors.repeats_last(where, exc)
        err = self.errors.record(where, exc, self.wall())
        # The traceback once; the same error again in one line.
        log.error("strategy %s raised in %s: %s", self.name, where, err.text,
                  exc_info=None if repeated else exc)
        if self.errors.halt_due(err.time) and not self._halting \
                and self.trading_state != "HALTED":
            self._halting = True
            self.spawn(self.halt_for_errors(err, self.errors.count(err.time)),
                       "halt after errors")

    async def halt_for_errors(self, err: HandlerError, count: int) -> None:
        """Ask the broker to halt this strategy after `count` errors, and alert with the
        exception's text. If the broker does not answer, the next error asks again."""
        reason = (f"{count} strategy errors within {self.errors.window / 60:.0f} minutes "
                  f"(halt_after_errors = {self.errors.halt_after}); last in {err.where}: "
                  f"{err.text}")
        alert = {"level": "CRITICAL", "strategy": self.name, "message": reason,
                 "error": err.text, "error_type": err.type, "where": err.where,
                 "errors_5m": count}
        try:
            await self.broker.request("halt", {"strategy": self.name, "reason": reason,
                                               "by": f"strategy:{self.name}"})
        except RequestError as exc:
            log.error("could not halt %s after its errors (%s): %s", self.name, exc.message,
                      reason)
            self.publish("alert", "alert", {**alert, "halted": False,
                                            "message": f"halt refused or unanswered "
                                                       f"({exc.message}): {reason}"})
            return
        finally:
            self._halting = False
        self.trading_state = "HALTED"  # the broker's message on risk.<name> says so too
        log.critical("HALTED %s: %s", self.name, reason)
        self.publish("alert", "alert", {**alert, "halted": True})

    # -- startup ----------------------------------------------------------------------------

    async def fetch_entry(self) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            try:
                entry: dict[str, Any] = await self.manager.request("get", {"name": self.name})
                return entry
            except RequestError as exc:
                if exc.code == Code.UNKNOWN_STRATEGY or time.monotonic() > deadline:
                    raise
                log.warning("waiting for the manager: %s", exc.message)
                await asyncio.sleep(1.0)

    def build_strategy(self, entry: dict[str, Any]) -> Strategy[Any]:
        cls = load_strategy(entry["spec"])
        params = cls.params_type.from_mapping(entry.get("params") or {})
        weights = Weights(entry["target_weight"], entry["min_weight"], entry["max_weight"])
        strategy: Strategy[Any] = cls(self.name, params, self.ctx, weights)
        try:
            state = self.state_file.read()
            if state is not None:
                strategy.load_state(state)
                log.info("restored saved state from %s", self.state_file.path)
        except (OSError, ValueError, TypeError) as exc:
            log.error("ignoring unreadable saved state %s: %s", self.state_file.path, exc)
        return strategy

    async def connect_venue(self) -> None:
        venue = self.cfg.venue
        self.venue_state = "connecting"
        await adapter.connect(self.ib, venue["host"], int(venue["port"]), self.client_id,
                              timeout=float(venue["connect_timeout"]),
                              account=str(venue["account"]), stop=self.stop_event)
        self.venue_state = "connected"
        try:
            now = await self.ib.reqCurrentTimeAsync()
            self.clock.sync(now.timestamp())
        except Exception as exc:
            log.warning("reqCurrentTime failed (%s); using the local clock", exc)
        log.info("connected to %s:%s as clientId %d", venue["host"], venue["port"],
                 self.client_id)
        self.publish("status", "venue", {"venue": "connected", "client_id": self.client_id})

    async def sync_book(self) -> None:
        """Seed the book from the broker's ledger for this strategy."""
        try:
            book = await self.broker.request("book", {"strategy": self.name}, timeout=5.0)
        except RequestError as exc:
            log.warning("broker unavailable for the book (%s); orders stay refused until it "
                        "answers", exc.message)
            self.book_synced = False
            self.spawn(self._retry_sync_book(), "retry book")
            return
        positions: dict[str, float] = {}
        for con_id, qty in book.get("positions", []):
            key = self.con_keys.get(int(con_id))
            if key is None:
                key = await self._key_for_con_id(int(con_id))
            if key is not None:
                positions[key] = float(qty)
        self.ctx.reset_book(positions, float(book.get("cash", 0.0)))
        # The broker's ledger already holds these (each trade's latest version it knows):
        # neither re-booked nor re-reported; an older version is ignored, a newer one corrects.
        booked = seeded(book.get("executions", []), self.con_keys)
        self.executions.seed(booked)
        self.reported |= {version.exec_id for version, _ in booked}
        self.trading_state = str(book.get("trading_state", self.trading_state))
        await self.expect_in_flight(list(book.get("in_flight", [])))
        self.book_synced = True

    async def _resync(self) -> None:
        await self.sync_book()
        # Our own executions the broker had not yet booked when it answered come back here.
        await self.recover()

    async def _retry_sync_book(self) -> None:
        await asyncio.sleep(2.0)
        if not self.book_synced and not self.stop_event.is_set():
            await self.sync_book()

    async def _key_for_con_id(self, con_id: int) -> str | None:
        details = await self.ib.reqContractDetailsAsync(adapter.Contract(conId=con_id))
        if not details:
            return None
        inst = parsing.from_contract(details[0].contract)
        self.instruments[inst.key] = inst
        self.contracts[inst.key] = details[0].contract
        self.con_keys[con_id] = inst.key
        return inst.key

    async def qualify(self, inst: Instrument) -> Any:
        if inst.key in self.contracts:
            return self.contracts[inst.key]
        contract = parsing.to_contract(inst)
        qualified = await self.ib.qualifyContractsAsync(contract)
        if not qualified or not getattr(qualified[0], "conId", 0):
            raise RuntimeError(f"venue does not know {inst.key}")
        self.contracts[inst.key] = qualified[0]
        self.instruments[inst.key] = inst
        self.con_keys[qualified[0].conId] = inst.key
        return qualified[0]

    async def load_chains(self, strategy: Strategy[Any]) -> None:
        symbols = {s.instrument.symbol for s in strategy.subscriptions()
                   if s.instrument.sec_type == "FUT"}
        for symbol in sorted(symbols | set(getattr(strategy, "futures_symbols", ()))):
            details = await self.ib.reqContractDetailsAsync(parsing.future_chain_query(symbol))
            listed = sorted(((parsing.from_contract(d.contract), d.contract) for d in details),
                            key=lambda pair: pair[0].expiry or "")
            self.ctx.chains[symbol] = [inst for inst, _ in listed]
            for inst, contract in listed:
                self.contracts.setdefault(inst.key, contract)
                self.instruments.setdefault(inst.key, inst)
                self.con_keys.setdefault(contract.conId, inst.key)

    async def refresh_chains(self, strategy: Strategy[Any]) -> None:
        """Load the futures chains again (a new day lists new contracts and expires old
        ones), then warm up and stream the bars of any subscription that is new with them."""
        await self.load_chains(strategy)
        strategy.forget_specs()
        new = [s for s in strategy.subscriptions() if s.instrument.key not in self.aggregators]
        if new:
            log.info("new subscriptions after the chains' reload: %s",
                     ", ".join(s.instrument.key for s in new))
            await self.warm_up(strategy, new)
            self.subscribe_bars([s.instrument.key for s in new])
        await self.subscribe_ticks(strategy)

    async def warm_up(self, strategy: Strategy[Any],
                      specs: list[BarSpec] | None = None) -> None:
        """History of each subscription (the cache first, see ats.host.warmup), then a bar
        aggregator that continues it from the real-time bars."""
        cal = sessions(strategy.calendar)
        todo = strategy.subscriptions() if specs is None else specs
        for spec in todo:
            await self.qualify(spec.instrument)
            if spec.lookback > 0:
                self._warm(strategy, spec, await self._history(strategy, spec, cal))
            self.aggregators[spec.instrument.key] = BarAggregator(spec.instrument.key,
                                                                   spec.bar_size)
            if self._regular_hours_only(spec):
                self.regular_hours.add(spec.instrument.key)
        # Bars that completed while the later subscriptions warmed up (pacing can hold a
        # warm-up for a while): asked again, so the live bars continue the history unbroken.
        for spec in todo:
            last = self.warmed.get(spec.instrument.key)
            if last is not None and spec.bar_size != "1d" and \
                    self.clock.now() >= last + 2 * BAR_SIZES[spec.bar_size]:
                df = await self._history(strategy, spec, cal)
                self._warm(strategy, spec, df[df.index > last])

    async def _history(self, strategy: Strategy[Any], spec: BarSpec,
                       cal: Sessions) -> pd.DataFrame:
        """The subscription's completed bars up to now (the one still forming is built live)."""
        df = await self.warm.bars(spec, self.contracts[spec.instrument.key], self.clock.now(),
                                  cal)
        if len(df) and self._regular_hours_only(spec):
            df = in_regular_hours(df, spec.bar_size, cal)
        if len(df) and is_forming(df.index[-1], spec.bar_size, self.clock.now(),
                                  strategy.calendar):
            df = df.iloc[:-1]
        return df

    def _warm(self, strategy: Strategy[Any], spec: BarSpec, df: pd.DataFrame) -> None:
        if len(df):
            key = spec.instrument.key
            strategy.warm_up(key, df)
            self.warmed[key] = df.index[-1]
            self.ctx.last_prices[key] = float(df["close"].iloc[-1])

    def _regular_hours_only(self, spec: BarSpec) -> bool:
        return spec.regular_hours and spec.bar_size != "1d"

    def _sessions(self) -> Sessions:
        return sessions(self.strategy.calendar if self.strategy is not None else "XNYS")

    def subscribe_bars(self, keys: list[str] | None = None) -> None:
        for key in self.aggregators if keys is None else keys:
            bars = self.ib.reqRealTimeBars(self.contracts[key], 5, "TRADES",
                                           key in self.regular_hours)
            bars.updateEvent += self._on_rt_bar
            self.rt_bars.append(bars)

    def unsubscribe_bars(self) -> None:
        for bars in self.rt_bars:
            with contextlib.suppress(Exception):
                self.ib.cancelRealTimeBars(bars)
        self.rt_bars.clear()

    def _on_rt_bar(self, bars: Any, has_new_bar: bool) -> None:
        if not has_new_bar or not bars or self.strategy is None:
            return
        b = bars[-1]
        # ib_async/ib_insync keep every real-time bar of a subscription in this list (about
        # 380 bytes each, 17,280 a day per subscription): only the newest is ever read.
        del bars[:-1]
        key = self.con_keys.get(bars.contract.conId)
        if key is None:
            return
        t = pd.Timestamp(b.time)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        if self.stepped:
            # Everything before this bar's start is complete: callbacks due by then run now,
            # after the bars that completed (below) and before anything later.
            self.clock.follow(t.value / 1e9)
            self.sync_wanted.set()
        self.ctx.last_prices[key] = float(b.close)
        if key in self.regular_hours and not self._sessions().in_hours(np.array([t.value]))[0]:
            return
        agg = self.aggregators[key]
        done = agg.add(t, b.open_, b.high, b.low, b.close, b.volume)
        if done is not None and key in self.warmed and done.time <= self.warmed[key]:
            done = None  # the warm-up history holds this bar already
        if done is not None:
            if self.stepped:
                # the bar's end: its last 5-second bar's (a daily bar's: the session's close)
                self.clock.follow(t.value / 1e9 + 5.0)
            self.clock.latest_bar = done.time
            self._guard(self.strategy.handle_bar, done)
        elif self.stepped:
            self._guard(self.strategy.advance_clock, self.clock.now())

    async def subscribe_ticks(self, strategy: Strategy[Any]) -> None:
        """Market data for the strategy's TickSpecs not streaming yet."""
        specs = [s for s in strategy.tick_specs().values() if s.instrument.key not in
                 self.ticks.specs]
        for spec in specs:
            await self.qualify(spec.instrument)
        if specs:
            self.ticks.subscribe(specs, self.contracts)

    def _on_tick(self, tick: Tick) -> None:
        if tick.last is not None:
            self.ctx.last_prices[tick.instrument] = tick.last
        if self.strategy is not None:
            self._guard(self.strategy.handle_tick, tick)

    def adopt_orders(self) -> None:
        """Take back this clientId's open orders after a restart; never resend them."""
        for trade in self.ib.openTrades():
            self._adopt(trade)

    def _adopt(self, trade: Any) -> None:
        ref = orderref.parse(trade.order.orderRef or "")
        local_id = trade.order.orderRef
        if ref is None or ref[0] != self.name or local_id in self.trades:
            return
        handle = self.ctx.handles.get(local_id)
        if handle is None:
            inst = parsing.from_contract(trade.contract)
            qty = trade.order.totalQuantity * (1 if trade.order.action == "BUY" else -1)
            req = OrderRequest(inst, qty, trade.order.orderType,
                               _price(trade.order.lmtPrice), _price(trade.order.auxPrice),
                               trade.order.tif or "DAY")
            handle = OrderHandle(local_id=local_id, request=req, status=OrderStatus.SUBMITTED)
            self.ctx.handles[local_id] = handle
        self._track(handle, trade)
        self._sync_handle(handle, trade)
        log.info("re-adopted open order %s (%s %+g)", local_id,
                 handle.request.instrument.key, handle.request.quantity)

    def _on_open_order(self, trade: Any) -> None:
        """An order of ours the venue reports: adopt it if it was in flight at a restart."""
        if trade.order.orderRef in self.ctx.handles and trade.order.orderRef not in self.trades:
            self._adopt(trade)

    async def expect_in_flight(self, intents: list[dict[str, Any]]) -> None:
        """Approved intents not yet seen at the venue when this process started: they may
        still arrive, so the strategy sees them as UNRESOLVED open orders rather than placing
        them again. One that never arrives within the grace is given up, never resent."""
        for intent in intents:
            ref = orderref.make(self.name, int(intent["intent_id"]))
            if ref in self.ctx.handles:
                continue
            key = self.con_keys.get(int(intent["con_id"])) or await self._key_for_con_id(
                int(intent["con_id"]))
            if key is None:
                continue
            sign = 1.0 if intent["side"] == "BUY" else -1.0
            req = OrderRequest(self.instruments[key], sign * float(intent["quantity"]),
                               intent["order_type"], intent.get("limit_price"),
                               intent.get("stop_price"), intent.get("tif") or "DAY")
            self.ctx.handles[ref] = OrderHandle(local_id=ref, request=req,
                                                status=OrderStatus.UNRESOLVED)
            log.warning("order %s was in flight at the restart: waiting for the venue", ref)
            age = time.time() - float(intent["created"])
            self.spawn(self._give_up(ref, max(0.0, IN_FLIGHT_GRACE - age)), f"in flight {ref}")

    async def _give_up(self, ref: str, delay: float) -> None:
        await asyncio.sleep(delay)
        handle = self.ctx.handles.get(ref)
        if handle is not None and handle.status == OrderStatus.UNRESOLVED \
                and ref not in self.trades:
            self.ctx.reject(handle, "in-flight order never reached the venue; not resent")

    # -- orders -----------------------------------------------------------------------------

    def refusal(self, req: OrderRequest) -> str | None:
        if self.venue_state != "connected":
            return f"venue {self.venue_state}: new orders are refused until reconnected"
        if not self.book_synced:
            return "book not yet loaded from the broker: orders refused until it answers"
        if not self.data_ok:
            return "market data farm down: not trading on stale prices"
        if self.trading_state == "HALTED":
            return "trading is HALTED for this strategy"
        if not req.instrument.tradable:
            return f"{req.instrument.key} is not tradable"
        return None

    async def place(self, handle: OrderHandle) -> None:
        req = handle.request
        try:
            contract = await self.qualify(req.instrument)
        except Exception as exc:
            self.ctx.reject(handle, f"cannot qualify {req.instrument.key}: {exc}")
            return
        intent = {
            "strategy": self.name, "con_id": contract.conId, "symbol": contract.symbol,
            "sec_type": contract.secType, "side": "BUY" if req.quantity > 0 else "SELL",
            "quantity": abs(req.quantity), "order_type": req.order_type,
            "limit_price": req.limit, "stop_price": req.stop, "tif": req.tif,
            "multiplier": req.instrument.multiplier, "client_id": self.client_id,
            "ref_price": self.ctx.last_prices.get(req.instrument.key) or req.limit or req.stop
            or 0.0,
        }
        self.round_trips.sent(handle.local_id, time.monotonic())
        try:
            decision = await self.broker.request("approve", intent, timeout=5.0)
        except RequestError as exc:
            # Fail closed: without the broker's approval nothing leaves.
            self.round_trips.forget(handle.local_id)
            self.ctx.reject(handle, f"risk check unavailable ({exc.code}): {exc.message}")
            return
        if not decision.get("approved"):
            self.round_trips.forget(handle.local_id)
            self.ctx.reject(handle, decision.get("reason") or "rejected by risk")
            return
        self.round_trips.reached(handle.local_id, "approve", time.monotonic())
        order = adapter.Order(
            action=intent["side"], totalQuantity=abs(req.quantity), orderType=req.order_type,
            tif=req.tif, orderRef=decision["order_ref"],
        )
        if req.limit is not None:
            order.lmtPrice = req.limit
        if req.stop is not None:
            order.auxPrice = req.stop
        if self.cfg.venue["account"]:
            order.account = self.cfg.venue["account"]
        # The handle is now known by its orderRef: unique and stable across restarts.
        self.ctx.handles.pop(handle.local_id, None)
        self.round_trips.rename(handle.local_id, decision["order_ref"])
        handle.local_id = decision["order_ref"]
        self.ctx.handles[handle.local_id] = handle
        trade = self.ib.placeOrder(contract, order)
        self._track(handle, trade)
        log.info("placed %s %s %g %s (%s)", order.action, contract.symbol,
                 order.totalQuantity, order.orderType, handle.local_id)

    def _track(self, handle: OrderHandle, trade: Any) -> None:
        self.trades[handle.local_id] = trade
        trade.statusEvent += lambda t: self._sync_handle(handle, t)

    def _sync_handle(self, handle: OrderHandle, trade: Any) -> None:
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
            self.spawn(self.report_rejection(handle), f"report rejection {handle.local_id}")
        if changed:
            self._notify_status(handle)

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
            await self.broker.request("order_rejected", {"order_ref": handle.local_id,
                                                         "reason": handle.reason or ""})
        except RequestError as exc:
            log.error("could not report the rejection of %s to the broker (%s); its intent "
                      "is resolved at the broker's next recovery", handle.local_id, exc.message)

    def cancel(self, handle: OrderHandle) -> None:
        trade = self.trades.get(handle.local_id)
        if trade is not None and handle.status in OrderStatus.ACTIVE:
            self.ib.cancelOrder(trade.order)

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
        self.ib.placeOrder(trade.contract, order)

    def cancel_all(self) -> int:
        n = 0
        for handle in self.ctx.open_orders():
            self.cancel(handle)
            n += 1
        return n

    def _ours(self, fill: Any) -> bool:
        ref = orderref.parse(fill.execution.orderRef or "")
        return ref is None or ref[0] == self.name

    def _key_and_quantity(self, fill: Any) -> tuple[str, float]:
        """The fill's instrument key and signed quantity (+ bought, - sold)."""
        key = self.con_keys.get(fill.contract.conId) or parsing.from_contract(fill.contract).key
        e = fill.execution
        return key, float(e.shares) if e.side == "BOT" else -float(e.shares)

    def _version(self, fill: Any) -> Version:
        key, signed = self._key_and_quantity(fill)
        return Version(fill.execution.execId, int(fill.contract.conId), key, signed,
                       float(fill.execution.price), float(fill.contract.multiplier or 1))

    def _book_fill(self, fill: Any) -> None:
        """Apply one of our executions to the book, once per execId; a correction replaces
        the version booked before (ats.host.executions)."""
        if self._ours(fill):
            self.executions.book(self._version(fill))

    def _report_fill(self, fill: Any, commission: float) -> None:
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
        if self.strategy is not None:
            self._guard(self.strategy.handle_fill, fill_)

    def _on_exec(self, trade: Any, fill: Any) -> None:
        self._book_fill(fill)

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        self._book_fill(fill)
        self._report_fill(fill, float(report.commission))

    async def recover(self) -> None:
        """After a gap (start, reconnect, 1101/1102): executions and order states missed."""
        fills = await self.ib.reqExecutionsAsync(adapter.ExecutionFilter(clientId=self.client_id))
        missed = 0
        for fill in fills:
            if not self.executions.knows(fill.execution.execId) and self._ours(fill):
                missed += 1
            self._book_fill(fill)
            if fill.commissionReport is not None and fill.commissionReport.execId:
                self._report_fill(fill, float(fill.commissionReport.commission))
        await self.ib.reqOpenOrdersAsync()
        completed = await self.ib.reqCompletedOrdersAsync(apiOnly=True)
        done = {t.order.orderRef: t for t in completed if t.order.orderRef}
        for local_id, trade in list(self.trades.items()):
            handle = self.ctx.handles.get(local_id)
            if handle is not None:
                self._sync_handle(handle, done.get(local_id, trade))
        if missed:
            log.warning("recovered %d executions missed during the gap", missed)

    # -- venue events -----------------------------------------------------------------------

    def _on_error(self, req_id: int, code: int, msg: str, contract: Any = None) -> None:
        if code == adapter.CONNECTIVITY_LOST:
            self.venue_state = "lost"
            log.warning("venue connectivity lost (1100): new orders refused")
        elif code in (adapter.RESTORED_DATA_LOST, adapter.RESTORED_DATA_KEPT):
            self.venue_state = "connected"
            log.warning("venue connectivity restored (%d)", code)
            if code == adapter.RESTORED_DATA_LOST:
                self.unsubscribe_bars()
                self.subscribe_bars()
                self.ticks.resubscribe()
            self.spawn(self.recover(), "recover after outage")
        elif code in adapter.FARM_BROKEN:
            self.data_ok = False
            log.warning("market data farm down (%d): %s", code, msg)
        elif code in adapter.FARM_OK:
            self.data_ok = True

    def _on_disconnected(self) -> None:
        if self.stop_event.is_set():
            return
        self.venue_state = "disconnected"
        log.warning("venue disconnected; reconnecting")
        self.spawn(self.reconnect(), "reconnect")

    async def reconnect(self) -> None:
        self.rt_bars.clear()
        await self.connect_venue()
        await self.sync_book()
        self.adopt_orders()
        await self.recover()
        self.subscribe_bars()
        self.ticks.resubscribe()

    # -- bus --------------------------------------------------------------------------------

    async def listen(self) -> None:
        sub = Subscriber(self.zctx, self.cfg.endpoints.subscribe,
                         prefixes=(topics.params(self.name), topics.risk(self.name),
                                   topics.risk("all"), topics.fill(self.name)))
        async for _topic, env in sub:
            if env.type == "params":
                self.apply_params(env.body)
            elif env.type == "trading_state":
                self.apply_trading_state(env.body)
            elif env.type == "fill":
                self.apply_foreign_fill(env.body)
            elif env.type == "transfer":
                self.apply_transfer(env.body)

    def apply_transfer(self, row: dict[str, Any]) -> None:
        """The operator moved a position into or out of this strategy's book (`ats-ctl
        assign`): no execution says so, so the book is taken again from the broker; the
        strategy sees the new position through its context and manages it by its own rule."""
        log.warning("transfer %s: %+g %s (conId %s) %s this book at %s by %s; taking the book "
                    "again from the broker", row.get("transfer_id"), row.get("position_change"),
                    row.get("symbol"), row.get("con_id"),
                    "into" if row.get("side") == "IN" else "out of", row.get("price"),
                    row.get("by"))
        self.spawn(self._resync(), "book after a transfer")

    def apply_foreign_fill(self, row: dict[str, Any]) -> None:
        """A fill of this strategy's that another connection's order made (the broker's
        flatten at a halt): the venue reports it only to the placing client and the master,
        so the broker's ledger row is all this host hears of it. The book is taken again
        from the broker and the strategy is told."""
        exec_id = str(row.get("exec_id", ""))
        if int(row.get("client_id", -1)) == self.client_id or exec_id in self.reported \
                or self.executions.knows(exec_id):
            return
        self.reported.add(exec_id)
        log.info("fill %s of an order placed by clientId %s (%s): taking the book again "
                 "from the broker", exec_id, row.get("client_id"), row.get("order_ref"))
        self.spawn(self._resync(), "book after a foreign fill")
        key = self.con_keys.get(int(row.get("con_id", 0)))
        if key is None or self.strategy is None:
            return
        signed = float(row["shares"]) * (1.0 if row.get("side") == "BOT" else -1.0)
        t = pd.Timestamp(row["time"])
        fill = Fill(key, signed, float(row["price"]), float(row.get("commission") or 0.0),
                    t.tz_localize("UTC") if t.tzinfo is None else t, str(row.get("order_ref")))
        self._guard(self.strategy.handle_fill, fill)

    def apply_params(self, body: dict[str, Any]) -> None:
        assert self.strategy is not None
        ack: dict[str, Any] = {"req": body.get("req"), "strategy": self.name}
        try:
            new = self.strategy.update_params(body.get("params") or {})
            self.strategy.set_weights(Weights(body["target_weight"], body["min_weight"],
                                              body["max_weight"]))
            ack.update(ok=True, params=new.to_mapping())
            log.info("params changed: %s", new.to_mapping())
        except (ParamError, ValueError, KeyError, TypeError) as exc:
            ack.update(ok=False, error=str(exc))
        except Exception as exc:  # on_params_changed's own bug: counted, and this loop lives on
            self.strategy_raised("update_params", exc)
            ack.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        self.publish("params", "params_ack", ack)

    def apply_trading_state(self, body: dict[str, Any]) -> None:
        state = str(body.get("state", "ACTIVE"))
        if state != self.trading_state:
            log.warning("trading state %s -> %s (%s)", self.trading_state, state,
                        body.get("reason", ""))
            if self.trading_state == "HALTED":
                self.errors.rearm()  # resumed: only new errors count towards the next halt
        self.trading_state = state
        if state == "HALTED" and body.get("cancel", True):
            n = self.cancel_all()
            log.warning("halt: cancelled %d open orders", n)

    async def clock_loop(self) -> None:
        chains_of = self.clock.now().date()
        while not self.stop_event.is_set():
            if self.stepped:
                await self._follow_venue()
            if self.strategy is not None:
                now = self.clock.now()
                if now.date() != chains_of and self.ctx.chains:
                    # New listings appear and old ones expire: chains are loaded each day.
                    chains_of = now.date()
                    self.spawn(self.refresh_chains(self.strategy), "reload futures chains")
                self._guard(self.strategy.advance_clock, now - self.schedule_lag)
            if self.stepped:
                self.heartbeater.beat()  # venue_synced and in_flight, as of this instant
                await self._sync_wanted_or_stop(1.0)
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.clock_wait())

    def clock_wait(self) -> float:
        """Wall seconds until the schedule needs a look: CLOCK_TICK, or sooner when a callback
        falls due (at a simulator's speed a wall second is many venue seconds: a before_close
        callback must not run after the close)."""
        due = self.strategy.schedule.next_due() if self.strategy is not None else None
        if due is None:
            return CLOCK_TICK
        venue_seconds = float((due + self.schedule_lag - self.clock.now()).total_seconds())
        return min(CLOCK_TICK, max(0.001, venue_seconds / float(self.clock.speed)))

    async def _sync_wanted_or_stop(self, timeout: float) -> None:
        # While bars stream in (a long advance) syncs come at most every STEPPED_SYNC_GAP.
        await asyncio.sleep(STEPPED_SYNC_GAP)
        waits = [asyncio.ensure_future(self.sync_wanted.wait()),
                 asyncio.ensure_future(self.stop_event.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        self.sync_wanted.clear()

    async def _follow_venue(self) -> None:
        """A stepped venue's time, asked on the connection its bars arrive on: the reply comes
        after every bar sent before it, which are handled by then. ib_async keeps one
        currentTime request per connection: never while connect_venue asks its own."""
        if self.venue_state != "connected" or not self.ib.isConnected():
            return
        try:
            now = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), 5.0)
        except (TimeoutError, ConnectionError) as exc:
            log.warning("reqCurrentTime failed (%s): the clock waits for the next bar", exc)
            return
        self.clock.follow(now.timestamp())
        self.venue_synced = self.clock.now()

    # -- run --------------------------------------------------------------------------------

    async def run(self) -> int:
        install_stop_handlers(self.stop_event)
        logging.getLogger().addHandler(BusLogHandler(self.publisher, self.name))
        self.spawn(self.heartbeater.run(), "heartbeat")
        try:
            entry = await self.fetch_entry()
        except RequestError as exc:
            log.error("cannot load registry entry of %s: %s", self.name, exc.message)
            return EXIT_REGISTRY
        self.client_id = int(entry["client_id"])
        try:
            # Importing a strategy can take seconds: off the loop, so heartbeats go on.
            self.strategy = await asyncio.to_thread(self.build_strategy, entry)
        except (StrategyLoadError, ParamError) as exc:
            log.error("strategy %s cannot start: %s", self.name, exc)
            return EXIT_STRATEGY
        self.spawn(self.listen(), "listen")
        self.ib.errorEvent += self._on_error
        self.ib.execDetailsEvent += self._on_exec
        self.ib.commissionReportEvent += self._on_commission
        self.ib.openOrderEvent += self._on_open_order
        try:
            await self.connect_venue()
        except asyncio.CancelledError:
            return 0
        self.ib.disconnectedEvent += self._on_disconnected
        await self.sync_book()
        self.adopt_orders()
        await self.recover()
        await self.load_chains(self.strategy)
        await self.warm_up(self.strategy)
        self.strategy.start()
        self.strategy_running = True
        # The book is the broker's; the saved state is what the strategy remembers of it.
        self._guard(self.strategy.reconcile, self.ctx.positions())
        self.subscribe_bars()
        await self.subscribe_ticks(self.strategy)
        self.spawn(self.clock_loop(), "clock")
        self.spawn(self._healthy_after(), "crash record")
        self.publish("status", "started", {"client_id": self.client_id, "pid": os.getpid()})
        log.info("strategy %s running (clientId %d, pid %d, %s %s)", self.name, self.client_id,
                 os.getpid(), adapter.IB_LIB, adapter.ib.__version__)
        await self.stop_event.wait()
        return self.shutdown()

    async def _healthy_after(self) -> None:
        await asyncio.sleep(crashloop.HEALTHY_AFTER)
        crashloop.CrashRecord(crashloop.record_path(self.cfg.state_dir, self.name)).clear()

    def shutdown(self) -> int:
        log.info("stopping %s", self.name)
        if self.strategy is not None:
            self._guard(self.strategy.stop)
        self.unsubscribe_bars()
        self.ticks.cancel()
        self.ib.disconnect()
        self.publish("status", "stopped", {"pid": os.getpid()})
        for task in list(self.tasks):
            task.cancel()
        self.publisher.close()
        return 0


def _price(value: float) -> float | None:
    return None if value is None or value == 0 or abs(value) > 1e300 else float(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ats-strategy", description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--home", default=None)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        cfg = config_mod.load(None if args.home is None else Path(args.home))
        secure_bus(cfg, "strategy")
    except config_mod.ConfigError as exc:
        log.error("%s", exc)
        sys.exit(EXIT_CONFIG)
    keep_sessions_in(cfg.run_dir / "calendars")
    try:
        code = asyncio.run(Host(cfg, args.name).run())
    except Exception:
        log.exception("strategy %s crashed", args.name)
        code = EXIT_CRASH
    if code != 0:
        crashes = crashloop.CrashRecord(
            crashloop.record_path(cfg.state_dir, args.name)).record(time.time())
        if crashes >= crashloop.LIMIT:
            log.critical("strategy %s crashed %d times in %.0fs: crash loop; it stays stopped "
                         "until `ats-ctl start %s`", args.name, crashes, crashloop.WINDOW,
                         args.name)
            sys.exit(crashloop.CRASH_LOOP_EXIT)
        delay = crashloop.backoff(crashes)
        log.warning("exit %d after crash %d; backing off %.0fs before the restart", code,
                    crashes, delay)
        time.sleep(delay)
    sys.exit(code)


if __name__ == "__main__":
    main()
