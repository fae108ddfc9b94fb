"""Free space under the broker's journals and ArcticDB, as a trading state.

Below the soft floor the account goes REDUCING (no new exposure); below the hard floor it goes
HALTED and nothing more is written to ArcticDB (LMDB crashes the process natively when it
cannot grow: the local journal keeps every record until space returns). Either clears by itself
when space returns.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ats.broker.tradingstate import TradingState

MB = 1 << 20


class DiskLevel(StrEnum):
    OK = "OK"
    LOW = "LOW"  #: under the soft floor: REDUCING
    CRITICAL = "CRITICAL"  #: under the hard floor: HALTED, no ArcticDB writes

    @property
    def trading_state(self) -> TradingState:
        return {DiskLevel.OK: TradingState.ACTIVE, DiskLevel.LOW: TradingState.REDUCING,
                DiskLevel.CRITICAL: TradingState.HALTED}[self]


def watched_paths(state_dir: Path, arctic_uri: str) -> list[Path]:
    """The journal's folder, and ArcticDB's when it is on local LMDB."""
    paths = [state_dir]
    if arctic_uri.startswith("lmdb://"):
        paths.append(Path(arctic_uri.removeprefix("lmdb://").split("?")[0]))
    return paths


def _free(path: Path) -> int:
    while not path.exists() and path != path.parent:  # not created yet: its filesystem's
        path = path.parent
    return shutil.disk_usage(path).free


@dataclass
class DiskGuard:
    paths: Sequence[Path]
    soft_bytes: int
    hard_bytes: int
    free: Callable[[Path], int] = field(default=_free)

    def check(self) -> tuple[DiskLevel, str]:
        """The level of the fullest folder, and what it is: "12 MB free under /x"."""
        frees = {p: self.free(p) for p in self.paths}
        path = min(frees, key=frees.__getitem__)
        free = frees[path]
        level = (DiskLevel.CRITICAL if free < self.hard_bytes
                 else DiskLevel.LOW if free < self.soft_bytes else DiskLevel.OK)
        floor = {DiskLevel.CRITICAL: f"hard floor {self.hard_bytes // MB} MB",
                 DiskLevel.LOW: f"soft floor {self.soft_bytes // MB} MB",
                 DiskLevel.OK: f"soft floor {self.soft_bytes // MB} MB"}[level]
        return level, f"{free // MB} MB free under {path} ({floor})"
