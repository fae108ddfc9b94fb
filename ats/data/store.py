"""Stored bars in one ArcticDB library: one symbol per instrument and bar size.

A symbol holds a DataFrame with a UTC DatetimeIndex named ``time`` (bar start) and float
columns open, high, low, close, volume. Its metadata records the coverage (see ranges.py).
Rows already stored win over new ones with the same time: nothing is written twice, and every
merge is one ArcticDB write, append or update.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ats.data.naming import split_storage_name
from ats.data.ranges import Coverage, utc
from ats.storage.arctic import library as open_library
from ats.storage.arctic import read_retry

COLUMNS = ("open", "high", "low", "close", "volume")
METADATA_FORMAT = 1

# One Library object per process and library: each object caches the version map for ~2 s,
# so a second object would not see the first one's writes at once.
_libraries: dict[tuple[int, str, str], Any] = {}


def _library(uri: str, name: str) -> Any:
    key = (os.getpid(), uri, name)
    if key not in _libraries:
        _libraries[key] = open_library(uri, name)
    return _libraries[key]


@dataclass(frozen=True)
class SymbolInfo:
    name: str  #: storage name, e.g. SPY.1d
    symbol: str  #: storage base, e.g. SPY or VXM.FUT.20261216
    bar: str
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "symbol": self.symbol, "bar": self.bar, "rows": self.rows,
                "first": None if self.first is None else self.first.isoformat(),
                "last": None if self.last is None else self.last.isoformat()}


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """The stored shape: UTC index named time, sorted, unique; float OHLCV columns."""
    idx = pd.DatetimeIndex(df.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    out = pd.DataFrame({c: (df[c].to_numpy(dtype=np.float64) if c in df
                            else np.zeros(len(df))) for c in COLUMNS},
                       index=idx.as_unit("ns").rename("time"))
    out = out[~out.index.duplicated(keep="first")]
    return out.sort_index()


def _meta(cov: Coverage | None) -> dict[str, Any] | None:
    if cov is None:
        return None
    return {"format": METADATA_FORMAT, "coverage": [int(cov.first.value), int(cov.last.value)]}


def _coverage_of(meta: Any) -> Coverage | None:
    if isinstance(meta, dict) and isinstance(meta.get("coverage"), list | tuple):
        first, last = meta["coverage"]
        return Coverage(pd.Timestamp(int(first), tz="UTC"), pd.Timestamp(int(last), tz="UTC"))
    return None


class BarStore:
    """Bars of one library. Keep exactly one writer per symbol (ArcticDB loses data otherwise)."""

    def __init__(self, uri: str, library: str = "market_data") -> None:
        self.uri = uri
        self.library_name = library
        self.lib: Any = _library(uri, library)

    def has(self, name: str) -> bool:
        return bool(self.lib.has_symbol(name))

    def names(self) -> list[str]:
        return sorted(n for n in self.lib.list_symbols() if split_storage_name(n) is not None)

    def read(self, name: str, start: object = None, end: object = None) -> pd.DataFrame:
        """Bars with start in [start, end] (both optional); empty frame when none are stored."""
        if not self.has(name):
            return normalize(pd.DataFrame(columns=list(COLUMNS), index=pd.DatetimeIndex([])))
        rng = None
        if start is not None or end is not None:
            rng = (None if start is None else utc(start), None if end is None else utc(end))
        df: pd.DataFrame = read_retry(lambda: self.lib.read(name, date_range=rng).data,
                                      f"bars {name}")
        return df

    def tail(self, name: str, n: int) -> pd.DataFrame:
        df: pd.DataFrame = read_retry(lambda: self.lib.tail(name, n).data, f"bars {name}")
        return df

    def version(self, name: str) -> int | None:
        """The latest version number (each write adds one); None when absent."""
        if not self.has(name):
            return None
        return int(self.lib.read_metadata(name).version)

    def info(self, name: str) -> SymbolInfo:
        parts = split_storage_name(name)
        if parts is None:
            raise KeyError(name)
        d = self.lib.get_description(name)
        first, last = (d.date_range if d.row_count else (None, None))
        return SymbolInfo(name, parts[0], parts[1], int(d.row_count),
                          None if first is None else utc(first),
                          None if last is None else utc(last))

    def coverage(self, name: str) -> Coverage | None:
        """The recorded coverage, or the stored first..last bar for data without one."""
        if not self.has(name):
            return None
        cov = _coverage_of(self.lib.read_metadata(name).metadata)
        if cov is not None:
            return cov
        info = self.info(name)
        if info.first is None or info.last is None:
            return None
        return Coverage(info.first, info.last)

    def merge(self, name: str, df: pd.DataFrame, coverage: Coverage | None = None,
              *, record_coverage_only: bool = False) -> int:
        """Store the rows of `df` not stored yet, in one write; returns the rows written.

        `coverage` is saved with the write. With no new rows, nothing is written unless
        `record_coverage_only` and the coverage grew (then only the metadata is written).
        """
        new = normalize(df)
        if not self.has(name):
            if new.empty:
                return 0
            self.lib.write(name, new, metadata=_meta(coverage or Coverage(new.index[0],
                                                                          new.index[-1])))
            return len(new)
        old_cov = self.coverage(name)
        cov = coverage if coverage is not None else old_cov
        if not new.empty:
            cov = _union(cov, Coverage(new.index[0], new.index[-1]))
        info = self.info(name)
        if not new.empty and (info.last is None or new.index[0] > info.last):
            self.lib.append(name, new, metadata=_meta(cov))
            return len(new)
        if not new.empty:
            old = self.read(name, new.index[0], new.index[-1])
            new = new[~new.index.isin(old.index)]
        if new.empty:
            if record_coverage_only and cov is not None and cov != old_cov:
                self.lib.write_metadata(name, _meta(cov))
            return 0
        combined = pd.concat([old, new]).sort_index()
        self.lib.update(name, combined, metadata=_meta(cov))
        return len(new)


def _union(a: Coverage | None, b: Coverage) -> Coverage:
    if a is None:
        return b
    return Coverage(min(a.first, b.first), max(a.last, b.last))
