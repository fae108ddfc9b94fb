"""The real strategy host (`ats.host.main.Host.run`) against a real simulator, for the sim
integration tests: a strategy file on a temporary ATS_HOME, and stub manager and broker ROUTER
services (bus.service) answering only what the host asks them: its registry entry and an empty
book."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import zmq.asyncio

from ats import config
from ats.host.main import Host
from ats.processes import BusLogHandler
from ats.sim.process import SimProcess
from bus.service import Service

CONDITION_TIMEOUT = 30.0


async def wait_until(predicate: Callable[[], bool], what: str,
                     timeout: float = CONDITION_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.05)


class HostHarness:
    """The real strategy host for a probe strategy, on a temporary ATS_HOME pointed at the
    simulator, with stub manager and broker ROUTER services on its ipc endpoints."""

    def __init__(self, sim: SimProcess, root: Path, source: str, *, name: str = "probe",
                 client_id: int = 141, speed: float = 10.0) -> None:
        spec = root / f"{name}_strategy.py"
        spec.write_text(source)
        self.name = name
        self.entry = {"name": name, "spec": str(spec), "client_id": client_id,
                      "params": {}, "target_weight": 0.1, "min_weight": 0.0, "max_weight": 1.0}
        self.cfg = config.init_home(root / "home", {
            "venue": {"host": sim.host, "port": sim.port, "connect_timeout": 3.0},
            "sim": {"speed": speed},
        })
        self.host: Host | None = None
        self._zctx = zmq.asyncio.Context()
        self._tasks: list[asyncio.Future[Any]] = []
        self._services: list[Service] = []

    @property
    def seen(self) -> list[Any]:
        """What the strategy recorded in its `seen` list, in order."""
        strategy = self.host.strategy if self.host else None
        return list(getattr(strategy, "seen", []))

    def req_ids(self) -> set[int]:
        """The request ids of the host's live real-time bar subscriptions."""
        assert self.host is not None
        return {bars.reqId for bars in self.host.feed.rt_bars}

    async def start(self) -> Host:
        eps = self.cfg.endpoints
        manager = Service(self._zctx, eps.manager, "manager")
        manager.register("get", lambda params: self.entry)
        broker = Service(self._zctx, eps.broker, "broker")
        broker.register("book", lambda params: {
            "positions": [], "cash": 0.0, "executions": [], "trading_state": "ACTIVE",
            "in_flight": []})
        for service in (manager, broker):
            service.bind()
            self._services.append(service)
            self._tasks.append(asyncio.ensure_future(service.run()))
        self.host = Host(self.cfg, self.name)
        self._tasks.append(asyncio.ensure_future(self.host.run()))
        await wait_until(lambda: len(self.seen) >= 2 or self._tasks[-1].done(),
                         "the strategy's first two records")
        assert not self._tasks[-1].done(), "the host stopped while starting"
        return self.host

    async def stop(self) -> None:
        if self.host is not None:
            self.host.stop_event.set()
        for service in self._services:
            service.stop()
        await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 30)
        if self.host is not None:
            self.host.manager.close()
            self.host.broker.close()
            self.host.zctx.destroy(linger=0)
            self.host.sync_zctx.destroy(linger=0)
        self._zctx.destroy(linger=0)


@contextmanager
def temp_root() -> Iterator[Path]:
    """A short folder for a harness (ipc socket paths are limited to 107 characters)."""
    path = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    try:
        yield path
    finally:
        # Host.run adds a handler publishing WARNING+ records on its (now closed) publisher
        root_logger = logging.getLogger()
        for handler in list(root_logger.handlers):
            if isinstance(handler, BusLogHandler):
                root_logger.removeHandler(handler)
        shutil.rmtree(path, ignore_errors=True)
