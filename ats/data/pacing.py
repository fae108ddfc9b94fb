"""IB's historical-data pacing rules, enforced before a request is sent (never violated).

A request breaks pacing (error 162) when it is
- identical to one sent in the last 15 s;
- the 6th or more for the same contract, exchange and tick type in the last 2 s;
- beyond 60 requests in any 10 minutes.
`HistoricalPacer` says how long to wait before a request may go out, and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger("ats.data.pacing")

IDENTICAL_WINDOW = 15.0
SAME_CONTRACT_WINDOW = 2.0
SAME_CONTRACT_MAX = 5
TOTAL_WINDOW = 600.0
TOTAL_MAX = 60


@dataclass(frozen=True)
class HistRequest:
    """What the pacing rules look at in one reqHistoricalData."""

    contract: str  #: contract identity, e.g. Instrument.key
    exchange: str
    what: str  #: whatToShow (tick type)
    bar_size: str
    duration: str
    end: str  #: endDateTime as sent

    @property
    def identity(self) -> Hashable:
        return (self.contract, self.exchange, self.what, self.bar_size, self.duration, self.end)

    @property
    def contract_key(self) -> Hashable:
        return (self.contract, self.exchange, self.what)


class HistoricalPacer:
    """Sliding-window bookkeeping of sent requests; `clock` and `sleep` are injectable."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, *,
                 async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 total_max: int = TOTAL_MAX, total_window: float = TOTAL_WINDOW,
                 margin: float = 0.05) -> None:
        self.clock = clock
        self.sleep = sleep
        self.async_sleep = async_sleep
        self.total_max = total_max
        self.total_window = total_window
        self.margin = margin  #: extra seconds added to every wait, for clock skew
        self._sent: deque[tuple[float, HistRequest]] = deque()
        self.waited = 0.0  #: total seconds spent waiting

    def _forget(self, now: float) -> None:
        horizon = max(self.total_window, IDENTICAL_WINDOW, SAME_CONTRACT_WINDOW)
        while self._sent and self._sent[0][0] <= now - horizon:
            self._sent.popleft()

    def delay(self, req: HistRequest) -> tuple[float, str]:
        """Seconds to wait before `req` may be sent (0 when it may go now) and the rule."""
        now = self.clock()
        self._forget(now)
        waits: list[tuple[float, str]] = [(0.0, "")]
        same_identity = [t for t, r in self._sent if r.identity == req.identity
                         and t > now - IDENTICAL_WINDOW]
        if same_identity:
            waits.append((same_identity[-1] + IDENTICAL_WINDOW - now, "identical request < 15 s"))
        same_contract = [t for t, r in self._sent if r.contract_key == req.contract_key
                         and t > now - SAME_CONTRACT_WINDOW]
        if len(same_contract) >= SAME_CONTRACT_MAX:
            oldest = same_contract[-SAME_CONTRACT_MAX]
            waits.append((oldest + SAME_CONTRACT_WINDOW - now,
                          f"{SAME_CONTRACT_MAX + 1} requests for one contract < 2 s"))
        recent = [t for t, _ in self._sent if t > now - self.total_window]
        if len(recent) >= self.total_max:
            oldest = recent[-self.total_max]
            waits.append((oldest + self.total_window - now,
                          f"{self.total_max} requests < {self.total_window:.0f} s"))
        wait, rule = max(waits)
        return (wait + self.margin, rule) if wait > 0 else (0.0, "")

    def record(self, req: HistRequest) -> None:
        self._sent.append((self.clock(), req))

    def acquire(self, req: HistRequest) -> float:
        """Block until `req` may be sent, then record it as sent; returns the seconds waited."""
        total = 0.0
        while True:
            wait, rule = self.delay(req)
            if wait <= 0:
                break
            log.info("historical pacing: waiting %.1fs (%s) before %s %s", wait, rule,
                     req.contract, req.end or "now")
            self.sleep(wait)
            total += wait
        self.record(req)
        self.waited += total
        return total

    async def acquire_async(self, req: HistRequest) -> float:
        total = 0.0
        while True:
            wait, rule = self.delay(req)
            if wait <= 0:
                break
            log.info("historical pacing: waiting %.1fs (%s) before %s %s", wait, rule,
                     req.contract, req.end or "now")
            await self.async_sleep(wait)
            total += wait
        self.record(req)
        self.waited += total
        return total

    def sent_times(self) -> list[float]:
        """Clock times of the requests still inside the longest window (oldest first)."""
        return [t for t, _ in self._sent]

    def preload(self, times: list[float]) -> None:
        """Count requests another run sent at `times` (clock values) against the 10-min limit."""
        blank = HistRequest("", "", "", "", "", "")
        for t in sorted(times):
            self._sent.append((t, blank))
