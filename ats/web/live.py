"""The bus, live, for every open page: Clone replicas and events, fanned out to browsers.

Each replica (the manager's strategy statuses; the broker's positions, P&L, orders and account)
subscribes first, takes its owner's snapshot, then applies newer updates; an owner that
restarts (new epoch) or a gap means a fresh snapshot, which every page receives whole. Events
that are not state (fills, alerts, WARNING+ log lines, reconciliation, trading states, the
venue connection) are passed on as they come, the last few kept for a page that opens later.
Two things have no Clone state and are asked for every few seconds with the requests ats-ctl
makes: `status` (the processes, uptimes, heartbeats) and `reconcile`.

A page's stream is a queue of (kind, data) pairs; ``Broadcast`` drops a page that cannot keep
up and tells it to start over from a snapshot (``resync``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq.asyncio

from ats.web.backend import Backend
from bus import topics
from bus.clone import SNAPSHOT, CloneReplica
from bus.endpoints import Endpoints
from bus.errors import RequestError
from bus.subscriber import Subscriber

log = logging.getLogger("ats.web.live")

#: replica name -> (service, snapshot method, topic family)
REPLICAS: dict[str, tuple[str, str, str]] = {
    "strategies": ("manager", "snapshot", topics.STATUS),
    "positions": ("broker", "snapshot_positions", topics.POSITION),
    "pnl": ("broker", "snapshot_pnl", topics.PNL),
    "orders": ("broker", "snapshot_orders", topics.ORDER),
    "account": ("broker", "snapshot_account", topics.ACCOUNT),
}
#: families passed on as events
EVENT_FAMILIES = (topics.FILL, topics.ALERT, topics.LOG, topics.RECONCILE, topics.RISK,
                  topics.CONNECTION)
#: seconds between `status` requests, and between `reconcile` requests
STATUS_SECONDS = 2.0
RECONCILE_SECONDS = 5.0
#: events kept for a page that opens later
RECENT_EVENTS = 300
#: (kind, data) pairs a page may fall behind before it is told to resync
QUEUE_SIZE = 2000
RETRY_SECONDS = 2.0

Event = tuple[str, dict[str, Any]]


class Broadcast:
    """Fan-out of events to every open page's queue."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.size = size
        self._queues: set[asyncio.Queue[Event | None]] = set()

    def __len__(self) -> int:
        return len(self._queues)

    def open(self) -> asyncio.Queue[Event | None]:
        q: asyncio.Queue[Event | None] = asyncio.Queue(self.size)
        self._queues.add(q)
        return q

    def close(self, q: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(q)

    def send(self, kind: str, data: dict[str, Any]) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait((kind, data))
            except asyncio.QueueFull:  # too slow: it starts over from a snapshot
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(("resync", {}))

    def end(self) -> None:
        """Every stream ends (the process is stopping)."""
        for q in list(self._queues):
            while q.full():
                q.get_nowait()
            q.put_nowait(None)


class LiveBus:
    def __init__(self, ctx: zmq.asyncio.Context, endpoints: Endpoints, backend: Backend,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.ctx, self.endpoints, self.backend, self.clock = ctx, endpoints, backend, clock
        self.broadcast = Broadcast()
        self.replicas: dict[str, CloneReplica] = {}
        self.errors: dict[str, str] = {}  #: what is unavailable now, and why
        self.status: dict[str, Any] = {"time": 0.0, "rows": []}
        self.reconcile: dict[str, Any] | None = None
        self.recent: deque[Event] = deque(maxlen=RECENT_EVENTS)
        self.events_seen = 0

    # -- what a page gets first ---------------------------------------------------------------

    def state(self, name: str) -> dict[str, Any]:
        replica = self.replicas.get(name)
        return dict(replica.state) if replica is not None else {}

    def opening(self) -> list[Event]:
        """Everything a page needs to draw itself: each state whole, then recent events."""
        out: list[Event] = [("hello", {"server_time": self.clock(), "errors": self.errors})]
        out += [("snapshot", {"state": name, "data": self.state(name)}) for name in REPLICAS]
        out.append(("status", self.status))
        if self.reconcile is not None:
            out.append(("reconcile", self.reconcile))
        out += list(self.recent)
        return out

    # -- the bus ----------------------------------------------------------------------------

    def _on_change(self, name: str) -> Callable[[str, str | None, Any], None]:
        def changed(op: str, key: str | None, value: Any) -> None:
            if op == SNAPSHOT:
                self._error(name, None)
                self.broadcast.send("snapshot", {"state": name, "data": dict(value)})
            else:
                self.broadcast.send(op, {"state": name, "key": key, "value": value})
        return changed

    async def _keep(self, name: str, replica: CloneReplica) -> None:
        while True:
            try:
                await replica.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the owner is down: say so, and try again
                self._error(name, f"{name}: {exc}")
                await asyncio.sleep(RETRY_SECONDS)

    def _error(self, what: str, message: str | None) -> None:
        old = self.errors.get(what)
        if message is None:
            self.errors.pop(what, None)
        else:
            self.errors[what] = message
        if old != message:
            self.broadcast.send("errors", dict(self.errors))

    async def _events(self) -> None:
        sub = Subscriber(self.ctx, self.endpoints.subscribe,
                         [topics.prefix(f) for f in EVENT_FAMILIES])
        try:
            async for topic, env in sub:
                try:
                    family, name = topics.parse(topic)
                except ValueError:  # not a topic of ours: nothing to show
                    continue
                event = ("event", {"family": family, "name": name, "type": env.type,
                                   "ts": env.ts, "body": env.body})
                self.events_seen += 1
                self.recent.append(event)
                self.broadcast.send(*event)
        finally:
            sub.close()

    async def _poll(self, method: str, seconds: float,
                    keep: Callable[[Any], None]) -> None:
        service = "manager" if method == "status" else "broker"
        while True:
            try:
                keep(await self.backend.call(service, method, {}, timeout=5.0))
                self._error(method, None)
            except RequestError as exc:
                self._error(method, f"{service} {method}: {exc.message}")
            except Exception as exc:  # a malformed answer: say so, and keep polling
                log.exception("%s %s", service, method)
                self._error(method, f"{service} {method}: {exc}")
            await asyncio.sleep(seconds)

    def _keep_status(self, rows: Any) -> None:
        self.status = {"time": self.clock(), "rows": list(rows)}
        self.broadcast.send("status", self.status)

    def _keep_reconcile(self, result: Any) -> None:
        self.reconcile = {"time": self.clock(), **dict(result)}
        self.broadcast.send("reconcile", self.reconcile)

    async def run(self) -> None:
        tasks = []
        for name, (service, method, family) in REPLICAS.items():
            replica = CloneReplica(self.ctx, self.endpoints.subscribe,
                                   getattr(self.endpoints, service), [topics.prefix(family)],
                                   name=name, method=method, timeout=3.0,
                                   on_change=self._on_change(name))
            self.replicas[name] = replica
            tasks.append(asyncio.create_task(self._keep(name, replica), name=f"clone-{name}"))
        tasks += [asyncio.create_task(self._events(), name="events"),
                  asyncio.create_task(self._poll("status", STATUS_SECONDS, self._keep_status),
                                      name="status"),
                  asyncio.create_task(self._poll("reconcile", RECONCILE_SECONDS,
                                                 self._keep_reconcile), name="reconcile")]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)
            for replica in self.replicas.values():
                replica.close()
            self.broadcast.end()
