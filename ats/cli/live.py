"""Live views of the running system for the REPL: Clone replicas turned into DataFrames.

A background thread runs one asyncio loop with a replica per state the owners publish
(the manager's strategy statuses; the broker's positions, P&L, orders and account). Each replica
subscribes first, then takes the owner's snapshot, then applies only newer updates, so a REPL
attached mid-day holds the true picture at once. Fills likewise: the ledger's fills first, then
live ones, one row per execution.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from typing import Any

import pandas as pd
import zmq.asyncio

from ats.orders.events import FILL_TYPE, FillEvent
from bus import topics
from bus.client import AsyncRequester
from bus.clone import CloneReplica
from bus.codec import Envelope
from bus.endpoints import Endpoints
from bus.subscriber import Subscriber

log = logging.getLogger("ats.cli.live")

#: name -> (service, snapshot method, topic family)
REPLICAS: dict[str, tuple[str, str, str]] = {
    "strategies": ("manager", "snapshot", "status"),
    "positions": ("broker", "snapshot_positions", "position"),
    "pnl": ("broker", "snapshot_pnl", "pnl"),
    "orders": ("broker", "snapshot_orders", "order"),
    "account": ("broker", "snapshot_account", "account"),
}


class LiveState:
    def __init__(self, endpoints: Endpoints, history: int = 1000) -> None:
        self.endpoints = endpoints
        self.replicas: dict[str, CloneReplica] = {}
        self.errors: dict[str, str] = {}
        self.events: deque[tuple[str, Envelope]] = deque(maxlen=history)
        self.fills: dict[str, dict[str, Any]] = {}  #: exec_id -> the ledger's row, in order
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="ats-live", daemon=True)

    def start(self, timeout: float = 5.0) -> LiveState:
        self._thread.start()
        self._ready.wait(timeout)
        return self

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        ctx = zmq.asyncio.Context()
        tasks = []
        for name, (service, method, family) in REPLICAS.items():
            replica = CloneReplica(ctx, self.endpoints.subscribe,
                                   getattr(self.endpoints, service), [topics.prefix(family)],
                                   name=name, method=method, timeout=2.0)
            self.replicas[name] = replica
            tasks.append(asyncio.create_task(self._keep(name, replica)))
        tasks.append(asyncio.create_task(self._events(ctx)))
        await asyncio.sleep(0.6)
        self._ready.set()
        await asyncio.gather(*tasks)

    async def _keep(self, name: str, replica: CloneReplica) -> None:
        while True:
            try:
                await replica.run()
            except Exception as exc:  # the owner may be down: retry, and say so
                self.errors[name] = str(exc)
                await asyncio.sleep(2.0)

    async def _events(self, ctx: zmq.asyncio.Context) -> None:
        sub = Subscriber(ctx, self.endpoints.subscribe, [""])
        await asyncio.sleep(0.1)  # as a Clone replica: subscribed before the snapshot
        req = AsyncRequester(ctx, self.endpoints.broker, timeout=5.0)
        try:
            for row in await req.request("fills", {}):
                self.fills.setdefault(row["exec_id"], row)
        except Exception as exc:  # the broker may be down: live fills only, and say so
            self.errors["fills"] = f"no ledger snapshot: {exc}"
        finally:
            req.close()
        async for topic, env in sub:
            if env.type == "hb":
                continue
            self.events.append((topic, env))
            if topics.parse(topic)[0] == topics.FILL and env.type == FILL_TYPE:
                try:
                    fill = FillEvent.decode(env.body)
                except ValueError as exc:
                    log.warning("fill skipped: %s", exc)
                    continue
                self.fills.setdefault(fill.exec_id, fill.row())

    def frame(self, name: str) -> pd.DataFrame:
        replica = self.replicas.get(name)
        if replica is None or not replica.state:
            return pd.DataFrame()
        rows = [v if isinstance(v, dict) else {"key": k, "value": v}
                for k, v in sorted(replica.state.items())]
        return pd.DataFrame(rows)
