"""Trading states ACTIVE / REDUCING / HALTED: global, per strategy, per instrument.

The effective state for an order is the most restrictive of the three. The whole set is
persisted as a small JSON file written atomically, so a halt survives restarts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from ats.atomicfile import atomic_write


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"  #: orders allowed, subject to risk limits
    REDUCING = "REDUCING"  #: only orders that reduce |position| are allowed
    HALTED = "HALTED"  #: no orders at all


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class TradingStates:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.global_state = TradingState.ACTIVE
        self.strategies: dict[str, TradingState] = {}  #: strategy -> state (ACTIVE omitted)
        self.instruments: dict[int, str] = {}  #: con_id -> why it is REDUCING
        #: the account's state set by the broker's own guards (free disk), and why; recomputed
        #: by the guard at every start, so it is not persisted
        self.guard: tuple[TradingState, str] = (TradingState.ACTIVE, "")

    @classmethod
    def load(cls, path: Path) -> TradingStates:
        """Read ``path`` if it exists, else start ACTIVE (the file is written on change)."""
        states = cls(path)
        if path.exists():
            states._update(json.loads(path.read_text()))
        return states

    # ---- changes (each persists) ---------------------------------------------------------

    def set_global(self, state: TradingState) -> None:
        self.global_state = TradingState(state)
        self.save()

    def set_strategy(self, strategy: str, state: TradingState) -> None:
        if TradingState(state) is TradingState.ACTIVE:
            self.strategies.pop(strategy, None)
        else:
            self.strategies[strategy] = TradingState(state)
        self.save()

    def set_instrument_reducing(self, con_id: int, reason: str) -> None:
        self.instruments[con_id] = reason
        self.save()

    def clear_instrument(self, con_id: int) -> None:
        if self.instruments.pop(con_id, None) is not None:
            self.save()

    # ---- queries -----------------------------------------------------------------------

    def strategy_state(self, strategy: str) -> TradingState:
        return self.strategies.get(strategy, TradingState.ACTIVE)

    def instrument_state(self, con_id: int) -> TradingState:
        return TradingState.REDUCING if con_id in self.instruments else TradingState.ACTIVE

    def effective(self, strategy: str, con_id: int | None = None) -> TradingState:
        return self.binding(strategy, con_id)[0]

    def binding(self, strategy: str, con_id: int | None = None) -> tuple[TradingState, str]:
        """The most restrictive state for an order and whose it is: "the account", "strategy
        NAME" or "con_id N (reason)"; the account's wins a tie."""
        scopes = [(self.global_state, "the account"),
                  (self.guard[0], f"the account: {self.guard[1]}"),
                  (self.strategy_state(strategy), f"strategy {strategy}")]
        if con_id is not None and con_id in self.instruments:
            scopes.append((TradingState.REDUCING, f"con_id {con_id} ({self.instruments[con_id]})"))
        return max(scopes, key=lambda scope: _RANK[scope[0]])

    # ---- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "global": str(self.global_state),
            "guard": {"state": str(self.guard[0]), "reason": self.guard[1]},
            "strategies": {k: str(v) for k, v in self.strategies.items()},
            "instruments": {str(k): v for k, v in self.instruments.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: Path | None = None) -> TradingStates:
        states = cls(path)
        states._update(d)
        return states

    def _update(self, d: Mapping[str, Any]) -> None:
        self.global_state = TradingState(d.get("global", "ACTIVE"))
        self.strategies = {
            str(k): TradingState(v) for k, v in dict(d.get("strategies", {})).items()
            if TradingState(v) is not TradingState.ACTIVE
        }
        self.instruments = {int(k): str(v) for k, v in dict(d.get("instruments", {})).items()}

    def save(self) -> None:
        if self.path is not None:
            atomic_write(self.path, json.dumps(self.to_dict(), indent=1).encode())
