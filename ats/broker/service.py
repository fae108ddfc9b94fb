"""The broker process: one desk (ats.broker.main.Broker) per venue behind one ROUTER.

A request about one strategy goes to the desk of the venue the registry gives it; a request
about the whole account is asked of every desk and the answers merged, each row saying its
venue. With one venue, the desk's handlers are the service's, unwrapped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from ats import config as config_mod
from ats.broker.ledger import UNATTRIBUTED
from ats.broker.main import Broker, Wiring
from ats.errors import Code
from ats.orders import ref as orderref
from ats.processes import BusLogHandler, install_stop_handlers
from bus.clone import register_snapshot
from bus.errors import RequestError
from bus.heartbeat import Heartbeater

log = logging.getLogger("ats.broker")

Params = dict[str, Any]
Handler = Callable[[Params], Any]
#: answered by every desk, the lists joined
LISTS = ("positions", "pnl", "fills", "orders", "intents", "equity")
#: about one strategy, named by p["strategy"], or (without one) the whole account
BY_STRATEGY = ("approve", "book")
EITHER = ("halt", "resume", "set_limits")


class BrokerProcess:
    def __init__(self, cfg: config_mod.Config) -> None:
        self.cfg = cfg
        self.wiring = Wiring.open(cfg)
        self.desks = {str(v["name"]): Broker(cfg, v, self.wiring) for v in cfg.venues}
        self.first = next(iter(self.desks.values()))
        self.stop_event = asyncio.Event()
        for desk in self.desks.values():
            desk.stop_event = self.stop_event
        self.venue_of: dict[str, str] = {}  #: strategy -> venue, from the registry
        self._register()

    def _register(self) -> None:
        service = self.wiring.service
        names = (*BY_STRATEGY, *EITHER, *LISTS, "order_rejected", "assign", "account",
                 "trading_state", "limits", "reconcile")
        for name in names:
            if len(self.desks) == 1:
                service.register(name, getattr(self.first, f"m_{name}"))
            else:
                service.register(name, self._routed(name))
        service.register("history", self.first.history.m_history)
        for method, clone in (("snapshot_positions", self.wiring.positions),
                              ("snapshot_pnl", self.wiring.pnl),
                              ("snapshot_orders", self.wiring.orders),
                              ("snapshot_account", self.wiring.account)):
            register_snapshot(service, clone, method)

    # -- routing ----------------------------------------------------------------------------

    async def desk_of(self, strategy: str) -> Broker:
        """The desk of a registered strategy's venue; asks the registry once when it does not
        know the strategy (just added). Unknown: refused, never sent to a guessed venue."""
        if strategy not in self.venue_of:
            await self.refresh()
        venue = self.venue_of.get(strategy)
        if venue is None:
            raise RequestError(Code.UNKNOWN_STRATEGY, f"strategy {strategy!r} is not "
                               "registered: the broker does not know its venue")
        desk = self.desks.get(venue)
        if desk is None:
            raise RequestError(Code.UNKNOWN_VENUE, f"strategy {strategy!r} trades on venue "
                               f"{venue!r}, which this broker's config does not name")
        return desk

    async def refresh(self) -> None:
        try:
            entries = await self.wiring.manager.request("list", {})
        except RequestError as exc:
            log.warning("registry not read (%s): strategies' venues as last known", exc)
            return
        first = self.cfg.venue["name"]
        self.venue_of = {str(e["name"]): str(e.get("venue") or first) for e in entries}
        self.venue_of[UNATTRIBUTED] = first

    async def _desks_for(self, name: str, p: Params) -> list[Broker]:
        if p.get("venue"):
            desk = self.desks.get(str(p["venue"]))
            if desk is None:
                raise RequestError(Code.UNKNOWN_VENUE, f"no venue {p['venue']!r}: the venues are "
                                   f"{', '.join(self.desks)}")
            return [desk]
        if name in BY_STRATEGY or (name in EITHER and p.get("strategy")):
            return [await self.desk_of(str(p.get("strategy", "")))]
        if name == "order_rejected":
            parsed = orderref.parse(str(p.get("order_ref", "")))
            return [await self.desk_of(parsed[0])] if parsed else [self.first]
        if name == "assign":
            dest, source = str(p.get("dest") or ""), str(p.get("source") or UNATTRIBUTED)
            return [await self.desk_of(dest if dest and dest != UNATTRIBUTED else source)]
        return list(self.desks.values())

    def _routed(self, name: str) -> Callable[[Params], Awaitable[Any]]:
        async def handler(p: Params) -> Any:
            desks = await self._desks_for(name, p)
            answers = [await _call(getattr(desk, f"m_{name}"), p) for desk in desks]
            if len(answers) == 1 and name not in LISTS and name not in MERGED:
                return answers[0]
            return merge(name, [d.venue_name for d in desks], answers, p)

        return handler

    # -- process ----------------------------------------------------------------------------

    def _hb_info(self) -> dict[str, Any]:
        if len(self.desks) == 1:
            return self.first._hb_info()
        venues = {name: desk._hb_info() for name, desk in self.desks.items()}
        return {**venues[self.first.venue_name],
                "venue": "connected" if all(d.connected for d in self.desks.values())
                else "disconnected",
                "venues": venues}

    async def run(self) -> None:
        install_stop_handlers(self.stop_event)
        publisher = self.wiring.publisher
        logging.getLogger().addHandler(BusLogHandler(publisher, "broker"))
        tasks = [asyncio.create_task(self.wiring.service.run(), name="service"),
                 asyncio.create_task(Heartbeater(publisher, "broker", info=self._hb_info).run(),
                                     name="hb")]
        for desk in self.desks.values():
            tasks += desk.start()
        log.info("broker up (pid %d): venues %s", os.getpid(), ", ".join(self.desks))
        await self.stop_event.wait()
        log.info("broker stopping")
        self.wiring.service.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for desk in self.desks.values():
            await desk.close()
        publisher.close()


async def _call(method: Handler, p: Params) -> Any:
    out = method(p)
    return await out if asyncio.iscoroutine(out) else out


#: answers merged even when one desk answered (they gain the per-venue detail)
MERGED = ("trading_state", "limits", "reconcile", "account")


def merge(name: str, venues: list[str], answers: list[Any], p: Params) -> Any:
    """Several desks' answers to one request as one answer: rows joined (each with its venue),
    the account's values side by side, the first venue's states and limits plus each venue's."""
    if name in LISTS:
        rows = [{**row, "venue": venue} for venue, rows in zip(venues, answers, strict=True)
                for row in rows]
        if name == "fills":
            rows.sort(key=lambda r: str(r.get("time") or ""))
            limit = int(p.get("limit", 0) or 0)
            return rows[-limit:] if limit else rows
        return rows
    if name == "account":
        return {k: v for answer in answers for k, v in answer.items()}
    if name == "reconcile":
        return {"breaks": [{**b, "venue": venue} for venue, a in zip(venues, answers, strict=True)
                           for b in a["breaks"]],
                "checked": sum(int(a["checked"]) for a in answers)}
    # trading_state, limits, halt, resume, set_limits: the first venue's answer, every venue's
    # strategies, and each venue's whole answer under "venues"
    first = dict(answers[0])
    key = "trading_state" if name == "halt" else None
    parts = [a[key] if key else a for a in answers]
    merged = dict(parts[0])
    if isinstance(merged.get("strategies"), dict):
        merged["strategies"] = {k: v for part in parts for k, v in part["strategies"].items()}
    merged["venues"] = dict(zip(venues, parts, strict=True))
    if key:
        first[key] = merged
        first["flatten_orders"] = [r for a in answers for r in a.get("flatten_orders", [])]
        return first
    return merged
