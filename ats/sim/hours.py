"""Trading hours as the venue's orders see them: when an order may execute, and when a DAY
order's session ends.

Both come from the exchange calendar of the instrument (`calendar.py`, through the market's
`calendar_of`), the one the simulator's bars and sessions use, so orders, bars and the hosts'
calendars agree. This module holds no times of its own.

- Without outsideRth an order executes only in regular hours. Placed outside them it waits,
  Submitted, for the next session (as a Gateway queues it).
- With outsideRth it also executes in the extended hours around a session (XNYS 04:00-20:00
  New York), never overnight or on a day without a session.
- A DAY order ends at the close of the session under way, or of the next session when placed
  outside one; with outsideRth at the end of that session's extended hours.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ats.sim.market import Market, calendar_of
from ats.sim.universe import Instrument


class Hours(Protocol):
    def can_execute(self, inst: Instrument, ts: float, outside_rth: bool) -> bool: ...
    def day_end(self, inst: Instrument, ts: float, outside_rth: bool) -> float: ...


class CalendarHours:
    """Hours read from the instruments' exchange calendars."""

    def __init__(self, market: Market) -> None:
        self.market = market

    def can_execute(self, inst: Instrument, ts: float, outside_rth: bool) -> bool:
        if outside_rth:
            return calendar_of(inst).in_hours(ts, rth=False)
        return self.market.in_rth(inst, ts)

    def day_end(self, inst: Instrument, ts: float, outside_rth: bool) -> float:
        """When a DAY order placed at `ts` expires; 0.0 (never) past the calendar's range."""
        cal = calendar_of(inst)
        ends = cal.lates if outside_rth else cal.closes
        i = int(np.searchsorted(ends, ts, side="right"))  # the first session ending after ts
        return float(ends[i]) if i < len(ends) else 0.0
