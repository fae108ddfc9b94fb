"""Compare the ledger's books (strategies + unattributed) with IB's account positions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Break:
    con_id: int
    ledger: float
    account: float
    diff: float  #: ledger - account

    def to_dict(self) -> dict[str, float | int]:
        return {"con_id": self.con_id, "ledger": self.ledger, "account": self.account,
                "diff": self.diff}


def reconcile(
    ledger_positions: Mapping[int, float],
    account_positions: Mapping[int, float],
    tol: float = 1e-9,
) -> list[Break]:
    """One Break per contract whose positions differ by more than ``tol``; missing = 0."""
    breaks = []
    for con_id in sorted(set(ledger_positions) | set(account_positions)):
        ours = float(ledger_positions.get(con_id, 0.0))
        theirs = float(account_positions.get(con_id, 0.0))
        if abs(ours - theirs) > tol:
            breaks.append(Break(con_id, ours, theirs, ours - theirs))
    return breaks
