"""Market data plumbing: stored bars in ArcticDB, paced IB downloads, CSV import.

The names below load on first use, so that importing one light module (`ats.data.pacing`,
which the simulator uses) does not import the IB client and ArcticDB's store with it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"BarStore": "ats.data.store", "DataManager": "ats.data.manager",
            "HistRequest": "ats.data.pacing", "HistoricalPacer": "ats.data.pacing",
            "parse_symbol": "ats.data.naming", "storage_name": "ats.data.naming"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ats.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
