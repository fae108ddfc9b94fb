"""ats-alerts: the alerts process, under supervisord like the others.

It reads the bus (the manager's strategy statuses and the broker's P&L and account as Clone
replicas; alerts, venue connection, reconciliation and risk events as they come; the manager's
`status` for the system's processes every few seconds), raises alerts through ``rules``, folds
and rate-limits them (``fold``), logs every one to ``log/alerts.jsonl`` and delivers them from
the durable outbox (``delivery``). It beats on hb.alerts with the outbox's depth. It publishes
no alert itself (it would read its own) and never a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import zmq
import zmq.asyncio

from ats import config as config_mod
from ats.alerts.delivery import Courier, destinations
from ats.alerts.fold import Folder
from ats.alerts.model import Alert
from ats.alerts.rules import Rules, RulesConfig
from ats.alerts.store import AlertLog, Outbox
from ats.processes import BusLogHandler, install_stop_handlers, service_main
from bus import topics
from bus.client import AsyncRequester
from bus.clone import SNAPSHOT, CloneReplica
from bus.errors import RequestError
from bus.heartbeat import Heartbeater
from bus.publisher import Publisher
from bus.subscriber import Subscriber

log = logging.getLogger("ats.alerts")
PROCESS = "alerts"
#: families read as events
EVENT_FAMILIES = (topics.ALERT, topics.CONNECTION, topics.RECONCILE, topics.RISK)
#: replica name -> (service, snapshot method, topic family)
REPLICAS: dict[str, tuple[str, str, str]] = {
    "strategies": ("manager", "snapshot", topics.STATUS),
    "pnl": ("broker", "snapshot_pnl", topics.PNL),
    "account": ("broker", "snapshot_account", topics.ACCOUNT),
}
#: the account's figures the rules use (drawdown, daily summary)
ACCOUNT_TAGS = ("NetLiquidation", "RealizedPnL", "UnrealizedPnL")
STATUS_SECONDS = 3.0
WEIGHTS_SECONDS = 30.0
#: failed `status` requests in a row before the manager is alerted as unreachable
MANAGER_MISSES = 3
RETRY_SECONDS = 2.0
#: seconds after start before a daily summary may go out (the P&L replica fills first)
SUMMARY_GRACE = 20.0


class AlertsService:
    def __init__(self, cfg: config_mod.Config, *, clock: Callable[[], float] = time.time) -> None:
        self.cfg, self.clock = cfg, clock
        self.started = clock()
        a = cfg.section("alerts")
        web = cfg.section("web")
        self.rules = Rules(RulesConfig.from_section(
            a, float(cfg.section("manager")["heartbeat_timeout"]),
            f"http://{web['host']}:{web['port']}/performance"))
        self.folder = Folder(float(a["repeat_seconds"]), int(a["max_per_minute"]))
        self.log = AlertLog(cfg.alerts_log_file)
        dests = destinations(a["urls"])
        outbox = Outbox(cfg.state_dir / "alerts-outbox.json")
        waiting = outbox.load(d.dest_id for d in dests)
        self.courier = Courier(dests, outbox, retry_seconds=float(a["retry_seconds"]),
                               retry_max_seconds=float(a["retry_max_seconds"]), clock=clock)
        self.state_file = cfg.state_dir / "alerts-state.json"
        self._load_state()
        log.info("alerts to %d destinations (%s); %d undelivered from before", len(dests),
                 ", ".join(f"{d.masked} >= {d.min_level.name}" for d in dests) or "none",
                 waiting)

    # -- raising -----------------------------------------------------------------------------

    def raise_(self, alerts: list[Alert]) -> None:
        now = self.clock()
        for alert in alerts:
            out = self.folder.offer(alert, now)
            self._deliver(out)
            if not out:
                self.log.append(alert, fate="held" if self.folder.is_held(alert) else "folded")

    def tick(self) -> None:
        now = self.clock()
        alerts = self.rules.venue_tick(now)
        # not before the P&L replica had time to fill: a summary of nothing helps no one
        day = self.rules.summary_due(now) if now - self.started > SUMMARY_GRACE else ""
        if day:
            alerts += self.rules.summary(day, now)
        self.raise_(alerts)
        self._save_state()
        self._deliver(self.folder.tick(now))

    def _deliver(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            log.log(logging.WARNING if alert.level.name != "INFO" else logging.INFO,
                    "ALERT %s", alert.subject)
            self.log.append(alert, fate="sent")
        self.courier.enqueue(alerts)

    def _load_state(self) -> None:
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            self.rules.restore(json.loads(self.state_file.read_text()))
        self._saved = json.dumps(self.rules.state(), sort_keys=True)

    def _save_state(self) -> None:
        """Write the rules' state when it changed (a peak rose, a summary went out)."""
        text = json.dumps(self.rules.state(), sort_keys=True)
        if text == self._saved:
            return
        tmp = self.state_file.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(text)
            os.replace(tmp, self.state_file)
            self._saved = text

    # -- the bus -----------------------------------------------------------------------------

    def on_event(self, topic: str, type_: str, body: Mapping[str, Any]) -> None:
        try:
            family, name = topics.parse(topic)
        except ValueError:
            return
        now, r = self.clock(), self.rules
        if family == topics.ALERT and type_ == "alert":
            self.raise_(r.forwarded(name, body, now))
        elif family == topics.CONNECTION and name.startswith("broker") and type_ == "venue":
            self.raise_(r.venue(body, now, name))
        elif family == topics.RECONCILE:
            self.raise_(r.reconcile(type_, body, now))
        elif family == topics.RISK and type_ == "rejected":
            self.raise_(r.refusal(name, body, now))
        elif family == topics.RISK and type_ == "trading_state":
            self.raise_(r.trading_state(name, body, now))

    def on_change(self, replica: str) -> Callable[[str, str | None, Any], None]:
        def apply(key: str, value: Any) -> list[Alert]:
            now = self.clock()
            if replica == "strategies":
                return self.rules.strategy_status(key, value, now)
            if replica == "pnl":
                return self.rules.pnl_row(key, value, now)
            if isinstance(value, Mapping) and value.get("tag") in ACCOUNT_TAGS:
                return self.rules.account_value(str(value["tag"]), value.get("value"), now,
                                                str(value.get("venue") or ""))
            return []

        def changed(op: str, key: str | None, value: Any) -> None:
            try:
                if op == SNAPSHOT:
                    alerts = [a for k, v in dict(value).items() for a in apply(k, v)]
                else:
                    alerts = apply(str(key), value)
                self.raise_(alerts)
            except Exception:  # one bad row must not stop the replica
                log.exception("%s: cannot apply %s %s", replica, op, key)
        return changed

    async def _events(self, ctx: zmq.asyncio.Context) -> None:
        sub = Subscriber(ctx, self.cfg.endpoints.subscribe,
                         [topics.prefix(f) for f in EVENT_FAMILIES])
        try:
            async for topic, env in sub:
                try:
                    self.on_event(topic, env.type, env.body)
                except Exception:
                    log.exception("cannot handle %s %s", topic, env.type)
        finally:
            sub.close()

    async def _keep(self, replica: CloneReplica) -> None:
        while True:
            try:
                await replica.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # its owner is down: the status poll alerts that
                log.debug("replica: %s", exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def _poll_manager(self, manager: AsyncRequester) -> None:
        misses, last_weights = 0, 0.0
        while True:
            try:
                rows = await manager.request("status", {}, timeout=5.0)
                misses = 0
                self.raise_(self.rules.process_rows(list(rows), self.clock()))
                if time.monotonic() - last_weights > WEIGHTS_SECONDS:
                    entries = await manager.request("list", {}, timeout=5.0)
                    self.rules.weights = {str(e["name"]): float(e.get("target_weight") or 0.0)
                                          for e in entries}
                    last_weights = time.monotonic()
            except RequestError as exc:
                misses += 1
                if misses == MANAGER_MISSES:
                    self.raise_(self.rules.manager_unreachable(exc.message, self.clock()))
            except Exception:  # a malformed answer: say so, and keep polling
                log.exception("manager status")
            await asyncio.sleep(STATUS_SECONDS)

    async def _ticks(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def run(self) -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        ctx = zmq.asyncio.Context()
        sync_ctx = zmq.Context()
        eps = self.cfg.endpoints
        publisher = Publisher(sync_ctx, eps.publish, PROCESS)
        # Apprise's own lines stay in this process's log: a plugin may name more of a URL
        # than its masked form, and each failure is logged here (masked) anyway.
        to_bus = BusLogHandler(publisher, PROCESS)
        to_bus.addFilter(lambda record: not record.name.startswith("apprise"))
        logging.getLogger().addHandler(to_bus)
        logging.getLogger("apprise").setLevel(logging.WARNING)
        manager = AsyncRequester(ctx, eps.manager, timeout=5.0)
        replicas = [CloneReplica(ctx, eps.subscribe, getattr(eps, service),
                                 [topics.prefix(family)], name=name, method=method,
                                 timeout=3.0, on_change=self.on_change(name))
                    for name, (service, method, family) in REPLICAS.items()]
        beat = Heartbeater(publisher, PROCESS, lambda: {
            "pending": len(self.courier.outbox.items), "held": self.folder.held,
            "delivered": self.courier.delivered})
        tasks = [asyncio.create_task(self._events(ctx), name="events"),
                 asyncio.create_task(self._poll_manager(manager), name="status"),
                 asyncio.create_task(self._ticks(stop), name="ticks"),
                 asyncio.create_task(self.courier.run(), name="courier"),
                 asyncio.create_task(beat.run(), name="heartbeat"),
                 *(asyncio.create_task(self._keep(r), name=f"clone-{r.name}")
                   for r in replicas)]
        log.info("alerts process started")
        await stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for r in replicas:
            r.close()
        manager.close()
        publisher.close()
        log.info("alerts process stopped (%d undelivered kept in the outbox)",
                 len(self.courier.outbox.items))


def main(argv: list[str] | None = None) -> None:
    service_main("ats-alerts", __doc__, AlertsService, argv)
