"""The benchmark's closes: stored bars of the market_data library, completed from the venue
(the embedded simulator or a Gateway) when it answers, as `ats-ctl data fetch` does."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pandas as pd

from ats.data.naming import parse_symbol, storage_name
from ats.data.store import BarStore
from ats.report.metrics import Frequency

#: The bar size whose closes are taken at each point of a curve of this frequency.
BAR_SIZE: dict[str, str] = {"daily": "1d", "hourly": "1h", "minute": "1min"}
DEFAULT = "SPY"

#: fetch(symbol, bar_size, start, end): store what is missing of [start, end]; raises on failure
Fetch = Callable[[str, str, pd.Timestamp, pd.Timestamp], None]


def venue_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something listens on the venue's port (so a fetch will not wait to time out)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def stored(store: BarStore, symbol: str, bar_size: str, start: pd.Timestamp,
           end: pd.Timestamp) -> pd.Series:
    name = storage_name(parse_symbol(symbol), bar_size)
    if not store.has(name):
        return pd.Series(dtype=float)
    df = store.read(name, start, end)
    return df["close"].astype(float) if len(df) else pd.Series(dtype=float)


def closes(store: BarStore, symbol: str, frequency: Frequency, start: pd.Timestamp,
           end: pd.Timestamp, fetch: Fetch | None = None) -> tuple[pd.Series, str]:
    """(closes, where they came from) of `symbol` for a curve running from `start` to `end`:
    the stored bars, after asking `fetch` for the missing ones when given. A bar before
    `start` is included, so the first point of the curve has a benchmark price too."""
    bar = BAR_SIZE[frequency]
    lead = pd.Timedelta(days=7) if bar == "1d" else pd.Timedelta(days=1)
    name = storage_name(parse_symbol(symbol), bar)
    source = f"market_data {name}"
    if fetch is not None:
        try:
            fetch(symbol, bar, start - lead, end)
            source += ", completed from the venue"
        except Exception as exc:  # the stored bars are still worth a report
            source += f" (the venue could not complete it: {exc})"
    return stored(store, symbol, bar, start - lead, end), source


def stored_reader(uri: str, library: str) -> Callable[[str, str, pd.Timestamp, pd.Timestamp],
                                                      pd.Series]:
    """`stored` on a store opened at the first read (a process that never asks opens none)."""
    opened: list[BarStore] = []

    def read(symbol: str, bar_size: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        if not opened:
            opened.append(BarStore(uri, library))
        return stored(opened[0], symbol, bar_size, start, end)

    return read
