"""ArcticDB replay: bars stored as `<SYMBOL>.<barsize>` (e.g. `SPY.1d`, `SPY.1min`) in a
library override the synthetic series of that symbol."""

from __future__ import annotations

import logging

import numpy as np

from ats.sim.market import Market

log = logging.getLogger("ats.sim.replay")
COLUMNS = ("open", "high", "low", "close", "volume")


def load_overrides(market: Market, uri: str, library: str) -> int:
    """Load every `<SYMBOL>.<barsize>` series whose symbol is in the universe."""
    import arcticdb

    arctic = arcticdb.Arctic(uri)
    if not arctic.has_library(library):
        log.info("no %r library at %s: nothing to replay", library, uri)
        return 0
    lib = arctic.get_library(library)
    known = {i.symbol for i in market.universe.static()}
    n = 0
    for name in lib.list_symbols():
        symbol, _, size = name.rpartition(".")
        if symbol not in known or size not in ("1d", "1min"):
            continue
        df = lib.read(name).data
        times = df.index.asi8 / 1e9 if hasattr(df.index, "asi8") else np.asarray(df.index)
        values = df[list(COLUMNS)].to_numpy(dtype=float)
        market.overrides[(symbol, size)] = (np.asarray(times, dtype=float), values)
        log.info("replay series %s: %d bars", name, len(df))
        n += 1
    return n
