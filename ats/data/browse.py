"""Browse the ArcticDB store: its libraries, their symbols, a symbol's rows (issue 17).

Read-only but for ``delete``, which refuses the libraries that their owners alone may write:
the broker's ledger and the manager's registry (each one process's only-writer data).
A symbol's summary comes from ArcticDB's description (row count, columns, index, date range,
last update time) without reading its rows; a symbol without a time index (the ledger's
rows) takes its date range from its first and last ``time`` or ``ts`` value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ats.broker.ledger_store import LIBRARY as LEDGER_LIBRARY
from ats.manager.registry import LIBRARY as REGISTRY_LIBRARY

#: libraries `delete` refuses: each has one writer process, which alone may change it
PROTECTED = {LEDGER_LIBRARY: "the broker's ledger", REGISTRY_LIBRARY: "the manager's registry"}
#: columns that stand for the time of a row in a symbol without a time index
TIME_COLUMNS = ("time", "ts")


class BrowseError(LookupError):
    """No such library or symbol, or a refused delete; the message says which."""


@dataclass(frozen=True, slots=True)
class SymbolSummary:
    library: str
    symbol: str
    rows: int | None  #: None for a pickled symbol
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    columns: tuple[str, ...]
    index: str  #: the index column's name, "" for a plain range index
    last_update: pd.Timestamp
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"library": self.library, "symbol": self.symbol, "rows": self.rows,
                "first": _iso(self.first), "last": _iso(self.last),
                "columns": list(self.columns), "index": self.index,
                "last_update": _iso(self.last_update), "version": self.version}


def _iso(t: pd.Timestamp | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds")


def _utc(value: Any) -> pd.Timestamp | None:
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(t):
        return None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def libraries(arctic: Any) -> list[dict[str, Any]]:
    """Every library with its number of symbols and whether `delete` refuses it."""
    out = []
    for name in sorted(arctic.list_libraries()):
        out.append({"library": name, "symbols": len(arctic.get_library(name).list_symbols()),
                    "protected": name in PROTECTED})
    return out


def library(arctic: Any, name: str) -> Any:
    if not arctic.has_library(name):
        known = ", ".join(sorted(arctic.list_libraries())) or "none"
        raise BrowseError(f"no library {name!r} (libraries: {known})")
    return arctic.get_library(name)


def _symbol_lib(arctic: Any, lib_name: str, symbol: str) -> Any:
    lib = library(arctic, lib_name)
    if not lib.has_symbol(symbol):
        raise BrowseError(f"no symbol {symbol!r} in library {lib_name!r}")
    return lib


def summary(arctic: Any, lib_name: str, symbol: str) -> SymbolSummary:
    lib = _symbol_lib(arctic, lib_name, symbol)
    d = lib.get_description(symbol)
    first, last = (_utc(v) for v in d.date_range)
    index = "".join(str(i.name or "") for i in d.index) if d.index else ""
    columns = tuple(str(c.name) for c in d.columns)
    if first is None and d.row_count:
        column = next((c for c in TIME_COLUMNS if c in columns), None)
        if column is not None:
            first = _utc(lib.head(symbol, 1, columns=[column]).data[column].iloc[0])
            last = _utc(lib.tail(symbol, 1, columns=[column]).data[column].iloc[-1])
    version = int(lib.list_versions(symbol, latest_only=True).popitem()[0].version)
    updated = _utc(d.last_update_time)
    assert updated is not None, "ArcticDB dates every version"
    return SymbolSummary(lib_name, symbol, d.row_count, first, last, columns, index, updated,
                         version)


def symbols(arctic: Any, lib_name: str) -> list[SymbolSummary]:
    lib = library(arctic, lib_name)
    return [summary(arctic, lib_name, s) for s in sorted(lib.list_symbols())]


def rows(arctic: Any, lib_name: str, symbol: str, head: int | None = None,
         tail: int | None = None) -> pd.DataFrame:
    """The first `head` rows, else the last `tail` rows, else all of them."""
    lib = _symbol_lib(arctic, lib_name, symbol)
    if head is not None:
        return lib.head(symbol, max(head, 0)).data
    if tail is not None:
        return lib.tail(symbol, max(tail, 0)).data
    return lib.read(symbol).data


def delete(arctic: Any, lib_name: str, symbol: str) -> None:
    if lib_name in PROTECTED:
        raise BrowseError(f"library {lib_name!r} is {PROTECTED[lib_name]}: its symbols are "
                          "never deleted by hand")
    _symbol_lib(arctic, lib_name, symbol).delete(symbol)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts, the index first (times as ISO text, NaN as None)."""
    frame = df.reset_index() if df.index.name is not None or not isinstance(
        df.index, pd.RangeIndex) else df
    out = []
    for row in frame.to_dict("records"):
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        v = v.item()  # numpy scalars
    if isinstance(v, float) and v != v:
        return None
    return v
