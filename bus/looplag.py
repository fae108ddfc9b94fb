"""How late an asyncio event loop runs what is due: its lag.

A probe sleeps ``interval`` seconds again and again; each time it wakes, the time past the
instant it asked for is the lag. A loop blocked by a slow callback (a long computation, a
blocking call) wakes it late by as much. ``take()`` returns the largest lag since the last
``take()``, so a heartbeat that reports it every second misses no stall between two beats.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: seconds between two wake-ups of the probe
LOOP_LAG_INTERVAL = 0.1


class LoopLag:
    """The lag of the running loop, in seconds. Run ``run()`` as a task of that loop."""

    def __init__(self, interval: float = LOOP_LAG_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self.last = 0.0  #: the lag of the latest wake-up
        self.samples = 0  #: wake-ups measured
        self._max = 0.0  #: the largest lag since the last take()

    def observe(self, lag: float) -> None:
        """Record one wake-up ``lag`` seconds late."""
        lag = max(0.0, lag)
        self.last, self.samples = lag, self.samples + 1
        self._max = max(self._max, lag)

    def take(self) -> float:
        """The largest lag since the last call (or since the start), then start over."""
        worst, self._max = self._max, self.last
        return worst

    async def run(self) -> None:
        """Measure until cancelled."""
        while True:
            due = self.clock() + self.interval
            await asyncio.sleep(self.interval)
            self.observe(self.clock() - due)
