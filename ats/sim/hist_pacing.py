"""The historical-data pacing a Gateway enforces, across every client of the simulator.

IB counts the account's historical requests whichever connection sends them, so one ledger
serves all sessions. Time is the simulator's clock: at `speed` 10 the 15 s of the identical
rule pass in 1.5 s of wall time. A request that breaks a rule is answered with error 162 and
not counted (the rules themselves are `ats.data.pacing.pacing_wait`, which the client-side
pacer obeys). IB documents the rules for bars of 30 s or less; the simulator applies them to
every bar size and to reqHeadTimeStamp, so what passes here passes a Gateway.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from ats.data.pacing import (
    IDENTICAL_WINDOW,
    PACING_VIOLATION,
    SAME_CONTRACT_WINDOW,
    TOTAL_WINDOW,
    HistRequest,
    pacing_wait,
)
from ats.sim.history import HistoryError

log = logging.getLogger("ats.sim.pacing")

_HORIZON = max(IDENTICAL_WINDOW, SAME_CONTRACT_WINDOW, TOTAL_WINDOW)


class HistoryPacing:
    """`check(req)` raises HistoryError(162) for a request that breaks pacing, else counts it."""

    def __init__(self, clock: Callable[[], float], enabled: bool = True) -> None:
        self.clock = clock  #: the simulator's time (unix seconds)
        self.enabled = enabled  #: `--no-history-pacing`: every request is answered
        self.sent: deque[tuple[float, HistRequest]] = deque()  #: (sim time, request) counted
        self.violations = 0

    def check(self, req: HistRequest) -> None:
        if not self.enabled:
            return
        now = self.clock()
        while self.sent and self.sent[0][0] <= now - _HORIZON:
            self.sent.popleft()
        wait, rule = pacing_wait(self.sent, req, now)
        if wait > 0:
            self.violations += 1
            log.warning("historical pacing violation (%s): %s %s %s %s end %r, error 162",
                        rule, req.contract, req.what, req.bar_size, req.duration, req.end)
            raise HistoryError(162, PACING_VIOLATION)
        self.sent.append((now, req))
