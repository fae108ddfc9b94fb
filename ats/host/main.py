"""ats-strategy <name>: one strategy, one OS process, one IB clientId.

Lifecycle: fetch the registry entry from the manager, import and validate the strategy, connect
to the bus and to the venue with the entry's clientId, re-adopt this clientId's open orders, warm
up history, subscribe to 5-second real-time bars, then run the strategy on this process's asyncio
loop until SIGTERM. A fatal error exits non-zero so supervisord restarts the process.

The process's parts: its orders (ats.host.orders), its book (ats.host.book), its bars and ticks
(ats.host.feed), the contracts they share (ats.host.contracts) and whether orders may leave
(ats.host.gate). This module wires them, runs the strategy's hooks and clock, and follows the
venue's connection and the bus.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pandas as pd
import zmq
import zmq.asyncio

from ats import config as config_mod
from ats import heap
from ats.errors import Code
from ats.host import crashloop
from ats.host.book import Bookkeeper
from ats.host.context import LiveContext
from ats.host.contracts import Contracts
from ats.host.errorlog import ErrorLog, HandlerError
from ats.host.feed import Feed
from ats.host.gate import Gate
from ats.host.orders import Orders
from ats.host.statefile import StateFile
from ats.host.warmup import WarmUp
from ats.ib import adapter
from ats.ib.venueclock import VenueClock
from ats.orders.events import FILL_TYPE, ORDER_TYPE, TRANSFER_TYPE, FillEvent, OrderUpdate
from ats.processes import BusLogHandler, install_stop_handlers, secure_bus, setup_logging
from ats.sdk.loader import StrategyLoadError, load_strategy
from ats.sdk.orders import OrderHandle
from ats.sdk.params import ParamError
from ats.sdk.schedule import keep_sessions_in
from ats.sdk.strategy import Strategy
from ats.sdk.weights import Weights
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
        self.ib = adapter.IB()
        #: the venue this strategy trades on (its registry entry's, known after fetch_entry)
        self.venue = cfg.venue
        speed = float(cfg.section("sim")["speed"]) if cfg.venue["kind"] == "sim" else 1.0
        #: a stepped simulator: time moves only with its bars and its replies (see clock_loop)
        self.stepped = cfg.venue["kind"] == "sim" and cfg.section("sim")["clock"] == "stepped"
        self.clock = VenueClock(speed, stepped=self.stepped)
        self.schedule_lag = (pd.Timedelta(0) if self.stepped
                             else max(BAR_ARRIVAL, pd.Timedelta(seconds=speed * BAR_ARRIVAL_WALL)))
        self.strategy: Strategy[Any] | None = None
        self.client_id = 0
        self.gate = Gate()  #: venue, book, data and trading state: may orders leave
        self.contracts = Contracts(self)
        self.orders = Orders(self, name, self.contracts, self.gate)
        self.ctx = LiveContext(name, self.clock, self.orders, self.contracts.instruments,
                               self.account_equity)
        self.ctx.notify = self.notify_status
        self.book = Bookkeeper(self, name, self.ctx, self.contracts, self.orders, self.gate)
        self.warm = WarmUp(self.broker, self.ib)  #: warm-up history through the broker
        #: stepped: bars arrived or an order changed state, so clock_loop asks the venue's
        #: time now and beats (rather than a second later): a stepping test waits for that
        self.sync_wanted = asyncio.Event()
        self.feed = Feed(self, self.ctx, self.contracts)
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
        self.heartbeater = Heartbeater(self.publisher, self.name, info=self.hb_info)
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
        return {"venue": self.gate.venue_state, "client_id": self.client_id,
                "trading_state": self.gate.trading_state, "data_ok": self.gate.data_ok,
                "order_latency": self.orders.round_trips.to_dict(),
                "venue_time": self.clock.now().isoformat(),
                "in_flight": self.orders.in_flight(),
                **({"venue_synced": self.venue_synced.isoformat()}
                   if self.venue_synced is not None else {}),
                **self.ctx.snapshot(), **self.errors.info(self.wall())}

    def notify_status(self, handle: OrderHandle) -> None:
        if self.stepped:
            self.sync_wanted.set()
        self.publish("order", ORDER_TYPE, OrderUpdate(
            local_id=handle.local_id, status=handle.status, filled=handle.filled,
            avg_price=handle.avg_price, reason=handle.reason,
            instrument=handle.request.instrument.key, quantity=handle.request.quantity,
            created=handle.created.isoformat() if handle.created is not None else None,
        ).encode())
        if self.strategy is not None:
            self.guard(self.strategy.handle_order_status, handle)

    def guard(self, fn: Callable[..., Any], *args: Any) -> None:
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
                and self.gate.trading_state != "HALTED":
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
        self.gate.trading_state = "HALTED"  # the broker's message on risk.<name> says so too
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
        venue = self.venue
        self.gate.venue_state = "connecting"
        await adapter.connect(self.ib, venue["host"], int(venue["port"]), self.client_id,
                              timeout=float(venue["connect_timeout"]),
                              account=str(venue["account"]), stop=self.stop_event)
        self.gate.venue_state = "connected"
        try:
            now = await self.ib.reqCurrentTimeAsync()
            self.clock.sync(now.timestamp())
        except Exception as exc:
            log.warning("reqCurrentTime failed (%s); using the local clock", exc)
        log.info("connected to %s:%s as clientId %d", venue["host"], venue["port"],
                 self.client_id)
        self.publish("status", "venue", {"venue": "connected", "client_id": self.client_id})

    # -- venue events -----------------------------------------------------------------------

    def _on_error(self, req_id: int, code: int, msg: str,
                  contract: adapter.Contract | None = None) -> None:
        if code == adapter.CONNECTIVITY_LOST:
            self.gate.venue_state = "lost"
            log.warning("venue connectivity lost (1100): new orders refused")
        elif code in (adapter.RESTORED_DATA_LOST, adapter.RESTORED_DATA_KEPT):
            self.gate.venue_state = "connected"
            log.warning("venue connectivity restored (%d)", code)
            if code == adapter.RESTORED_DATA_LOST:
                self.feed.unsubscribe_bars()
                self.feed.subscribe_bars()
                self.feed.ticks.resubscribe()
            self.spawn(self.book.recover(), "recover after outage")
        elif code in adapter.FARM_BROKEN:
            self.gate.data_ok = False
            log.warning("market data farm down (%d): %s", code, msg)
        elif code in adapter.FARM_OK:
            self.gate.data_ok = True

    def _on_disconnected(self) -> None:
        if self.stop_event.is_set():
            return
        self.gate.venue_state = "disconnected"
        log.warning("venue disconnected; reconnecting")
        self.spawn(self.reconnect(), "reconnect")

    async def reconnect(self) -> None:
        self.feed.rt_bars.clear()
        await self.connect_venue()
        await self.book.sync()
        self.orders.adopt_open()
        await self.book.recover()
        self.feed.subscribe_bars()
        self.feed.ticks.resubscribe()

    # -- bus --------------------------------------------------------------------------------

    async def listen(self) -> None:
        sub = Subscriber(self.zctx, self.cfg.endpoints.subscribe,
                         prefixes=(topics.params(self.name), topics.risk(self.name),
                                   topics.risk("all"), topics.fill(self.name)))
        async for _topic, env in sub:
            self.on_bus(env.type, env.body)

    def on_bus(self, type_: str, body: dict[str, Any]) -> None:
        """One message of those `listen` hears. A fill that cannot be read is logged and
        skipped: the rest of the bus still reaches this host."""
        if type_ == "params":
            self.apply_params(body)
        elif type_ == "trading_state":
            self.apply_trading_state(body)
        elif type_ in (FILL_TYPE, TRANSFER_TYPE):
            try:
                event = FillEvent.decode(body)
            except ValueError as exc:
                log.error("%s message skipped: %s", type_, exc)
                return
            if event.transfer is None:
                self.book.apply_foreign_fill(event)
            else:
                self.book.apply_transfer(event)

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
        if state != self.gate.trading_state:
            log.warning("trading state %s -> %s (%s)", self.gate.trading_state, state,
                        body.get("reason", ""))
            if self.gate.trading_state == "HALTED":
                self.errors.rearm()  # resumed: only new errors count towards the next halt
        self.gate.trading_state = state
        if state == "HALTED" and body.get("cancel", True):
            n = self.orders.cancel_all()
            log.warning("halt: cancelled %d open orders", n)

    # -- the strategy's clock ---------------------------------------------------------------

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
                    self.spawn(self.feed.refresh_chains(self.strategy), "reload futures chains")
                self.guard(self.strategy.advance_clock, now - self.schedule_lag)
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
        if self.gate.venue_state != "connected" or not self.ib.isConnected():
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
            self.venue = self.cfg.venue_named(entry.get("venue"))
        except config_mod.ConfigError as exc:
            log.error("strategy %s cannot start: %s", self.name, exc)
            return EXIT_REGISTRY
        try:
            # Importing a strategy can take seconds: off the loop, so heartbeats go on.
            self.strategy = await asyncio.to_thread(self.build_strategy, entry)
        except (StrategyLoadError, ParamError) as exc:
            log.error("strategy %s cannot start: %s", self.name, exc)
            return EXIT_STRATEGY
        self.spawn(self.listen(), "listen")
        self.ib.errorEvent += self._on_error
        self.ib.execDetailsEvent += self.book.on_exec
        self.ib.commissionReportEvent += self.book.on_commission
        self.ib.openOrderEvent += self.orders.on_open_order
        try:
            await self.connect_venue()
        except asyncio.CancelledError:
            return 0
        self.ib.disconnectedEvent += self._on_disconnected
        await self.book.sync()
        self.orders.adopt_open()
        await self.book.recover()
        await self.feed.load_chains(self.strategy)
        await self.feed.warm_up(self.strategy)
        self.strategy.start()
        self.strategy_running = True
        # The book is the broker's; the saved state is what the strategy remembers of it.
        self.guard(self.strategy.reconcile, self.ctx.positions())
        self.feed.subscribe_bars()
        await self.feed.subscribe_ticks(self.strategy)
        self.spawn(self.clock_loop(), "clock")
        self.spawn(self._healthy_after(), "crash record")
        self.publish("status", "started", {"client_id": self.client_id, "pid": os.getpid()})
        log.info("strategy %s running (clientId %d, pid %d, %s %s)", self.name, self.client_id,
                 os.getpid(), adapter.IB_LIB, adapter.ib.__version__)
        heap.release_freed()  # hand back what start-up freed (issue 15: an idle host's RSS)
        await self.stop_event.wait()
        return self.shutdown()

    async def _healthy_after(self) -> None:
        await asyncio.sleep(crashloop.HEALTHY_AFTER)
        crashloop.CrashRecord(crashloop.record_path(self.cfg.state_dir, self.name)).clear()

    def shutdown(self) -> int:
        log.info("stopping %s", self.name)
        if self.strategy is not None:
            self.guard(self.strategy.stop)
        self.feed.unsubscribe_bars()
        self.feed.ticks.cancel()
        self.ib.disconnect()
        self.publish("status", "stopped", {"pid": os.getpid()})
        for task in list(self.tasks):
            task.cancel()
        self.publisher.close()
        return 0


def main(argv: list[str] | None = None) -> None:
    started = time.monotonic()
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
            time.sleep(crashloop.settle(time.monotonic() - started))
            sys.exit(crashloop.CRASH_LOOP_EXIT)
        delay = crashloop.backoff(crashes)
        log.warning("exit %d after crash %d; backing off %.0fs before the restart", code,
                    crashes, delay)
        time.sleep(delay)
    sys.exit(code)


if __name__ == "__main__":
    main()
