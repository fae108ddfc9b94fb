"""Heartbeats (Paranoid Pirate timing: 1 s interval, liveness 3) and liveness tracking."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from bus import topics
from bus.looplag import LoopLag
from bus.publisher import Publisher

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_LIVENESS = 3
HEARTBEAT_TYPE = "hb"


class Heartbeater:
    """Publishes ``{"pid", "uptime", "loop_lag_ms", **info()}`` on ``topics.hb(process)`` every
    interval. While ``run()`` runs, a ``LoopLag`` probe measures the loop's lag beside it, and
    ``loop_lag_ms`` is the worst lag since the beat before (absent before the probe runs)."""

    def __init__(
        self,
        publisher: Publisher,
        process: str,
        info: Callable[[], dict[str, Any]] | None = None,
        *,
        interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        self.publisher = publisher
        self.process = process
        self.topic = topics.hb(process)
        self.info = info
        self.interval = interval
        self.beats = 0
        self._started = time.monotonic()
        self._stop = asyncio.Event()
        self.loop_lag = LoopLag()

    def beat(self) -> int:
        """Publish one heartbeat now; return its seq."""
        body: dict[str, Any] = {"pid": os.getpid(), "uptime": time.monotonic() - self._started}
        if self.loop_lag.samples:
            body["loop_lag_ms"] = round(self.loop_lag.take() * 1000.0, 1)
        if self.info is not None:
            try:
                body.update(self.info())
            except Exception:
                log.exception("heartbeat info() failed; sending a bare heartbeat")
        self.beats += 1
        return self.publisher.publish(self.topic, HEARTBEAT_TYPE, body)

    async def run(self) -> None:
        """Beat every ``interval`` until ``stop()`` or cancellation."""
        probe = asyncio.create_task(self.loop_lag.run(), name=f"loop lag {self.process}")
        try:
            await self._beat_until_stopped()
        finally:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe

    async def _beat_until_stopped(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # we were blocked; don't burst to catch up
                next_at = time.monotonic()
                delay = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    def stop(self) -> None:
        self._stop.set()


class LivenessTracker:
    """Remembers when each process last beat; a process is alive for
    ``interval * liveness`` seconds after its last beat. Times are unix seconds
    (``time.time()``) so ``last_seen`` can be shown to operators; pass ``now`` in tests."""

    def __init__(
        self, interval: float = HEARTBEAT_INTERVAL, liveness: int = HEARTBEAT_LIVENESS
    ) -> None:
        self.interval = interval
        self.liveness = liveness
        self._last: dict[str, float] = {}  # process -> unix time of its last beat

    @property
    def timeout(self) -> float:
        return self.interval * self.liveness

    def beat(self, process: str, now: float | None = None) -> None:
        self._last[process] = time.time() if now is None else now

    def last_seen(self, process: str) -> float | None:
        return self._last.get(process)

    def alive(self, process: str, now: float | None = None) -> bool:
        last = self._last.get(process)
        if last is None:
            return False
        now = time.time() if now is None else now
        return now - last <= self.timeout

    def expired(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        return sorted(p for p, last in self._last.items() if now - last > self.timeout)

    def forget(self, process: str) -> None:
        self._last.pop(process, None)

    @property
    def processes(self) -> list[str]:
        return sorted(self._last)
