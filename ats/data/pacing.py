"""IB's historical-data pacing rules, enforced before a request is sent (never violated).

A request breaks pacing (error 162) when it is
- identical to one sent in the last 15 s;
- the 6th or more for the same contract, exchange and tick type in the last 2 s;
- beyond 60 requests in any 10 minutes.
A BID_ASK request counts twice, as IB counts it. `pacing_wait` is the rules as one pure
function of the requests already sent: `HistoricalPacer` (the client side) waits for what it
says before a request goes out, and the simulator (`ats.sim.history_requests`) answers
error 162 with `PACING_VIOLATION` to a request for which it says "wait".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("ats.data.pacing")

IDENTICAL_WINDOW = 15.0
SAME_CONTRACT_WINDOW = 2.0
SAME_CONTRACT_MAX = 5
TOTAL_WINDOW = 600.0
TOTAL_MAX = 60
#: IB's text of error 162 for a broken pacing rule
PACING_VIOLATION = ("Historical Market Data Service error message:Historical data request "
                    "pacing violation")


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

    @property
    def cost(self) -> int:
        """How many requests it counts as: BID_ASK is a BID and an ASK request."""
        return 2 if self.what.upper() == "BID_ASK" else 1


def pacing_wait(sent: Iterable[tuple[float, HistRequest]], req: HistRequest, now: float, *,
                total_max: int = TOTAL_MAX,
                total_window: float = TOTAL_WINDOW) -> tuple[float, str]:
    """Seconds until `req` may be sent without breaking a rule (0: now), and that rule.

    `sent` holds (time, request) of the requests already sent, oldest first."""
    same_identity: list[float] = []
    same_contract: list[tuple[float, int]] = []
    recent: list[tuple[float, int]] = []
    for t, r in sent:
        if t > now - IDENTICAL_WINDOW and r.identity == req.identity:
            same_identity.append(t)
        if t > now - SAME_CONTRACT_WINDOW and r.contract_key == req.contract_key:
            same_contract.append((t, r.cost))
        if t > now - total_window:
            recent.append((t, r.cost))
    waits: list[tuple[float, str]] = [(0.0, "")]
    if same_identity:
        waits.append((same_identity[-1] + IDENTICAL_WINDOW - now, "identical request < 15 s"))
    freed = _freed_at(same_contract, req.cost, SAME_CONTRACT_MAX)
    if freed is not None:
        waits.append((freed + SAME_CONTRACT_WINDOW - now,
                      f"{SAME_CONTRACT_MAX + 1} requests for one contract < 2 s"))
    freed = _freed_at(recent, req.cost, total_max)
    if freed is not None:
        waits.append((freed + total_window - now, f"{total_max} requests < {total_window:.0f} s"))
    return max(waits)


def _freed_at(window: list[tuple[float, int]], cost: int, limit: int) -> float | None:
    """The time of the request whose expiry leaves room for `cost` more within `limit`, or
    None when there is room now."""
    total = sum(c for _, c in window)
    if total + cost <= limit:
        return None
    for t, c in window:
        total -= c
        if total + cost <= limit:
            return t
    return None  # a cost above the limit: no wait makes room


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
        wait, rule = pacing_wait(self._sent, req, now, total_max=self.total_max,
                                 total_window=self.total_window)
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


#: in the state folder: the request times that `ats-ctl data fetch` and the scheduler share
PACING_FILE = "data_pacing.json"


def load_sent_times(path: Path, now: float) -> list[float]:
    """Request times of earlier runs still inside IB's 10-minute window."""
    try:
        times = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [float(t) for t in times if isinstance(t, int | float) and t > now - TOTAL_WINDOW]


def save_sent_times(path: Path, times: list[float]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([round(t, 3) for t in times]))
    except OSError as exc:
        log.warning("cannot save the pacing times to %s: %s", path, exc)
