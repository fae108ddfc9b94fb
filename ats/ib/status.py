"""IB's order status strings, in one table: what each means for an order's lifetime. The host
and the broker translate the phase into their own status enums."""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    PENDING = "pending"  #: not yet at the venue (PendingSubmit, ApiPending)
    WORKING = "working"  #: at the venue, not done (a pending cancel may still fill)
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  #: Inactive: refused by the venue, or parked outside its hours


PHASES: dict[str, Phase] = {
    "PendingSubmit": Phase.PENDING, "ApiPending": Phase.PENDING,
    "PreSubmitted": Phase.WORKING, "Submitted": Phase.WORKING, "PendingCancel": Phase.WORKING,
    "Filled": Phase.FILLED,
    "Cancelled": Phase.CANCELLED, "ApiCancelled": Phase.CANCELLED,
    "Inactive": Phase.REJECTED,
}

#: statuses after which IB reports nothing more of the order
DONE = frozenset(s for s, p in PHASES.items()
                 if p in (Phase.FILLED, Phase.CANCELLED, Phase.REJECTED))


def phase(status: str) -> Phase | None:
    """The phase of an IB status string; None for one IB does not document."""
    return PHASES.get(status)
