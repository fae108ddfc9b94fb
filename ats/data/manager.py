"""DataManager: stored bars for strategies, with missing ranges fetched through IB."""

from __future__ import annotations

import pandas as pd

from ats.data.fetch import FetchResult, HistoricalFetcher, plan
from ats.data.naming import storage_name
from ats.data.pacing import HistoricalPacer
from ats.data.ranges import utc
from ats.data.store import BarStore
from ats.ib import adapter
from ats.sdk.instrument import Instrument


class DataManager:
    """`DataManager(cfg.arctic_uri)`; pass a connected ib_async IB to fetch what is missing.

    `history` blocks (ib_async's own loop runs the requests) and so cannot be called inside a
    running event loop; async code uses `history_async`.
    """

    def __init__(self, arctic_uri: str, library: str = "market_data",
                 ib: adapter.IB | None = None, pacer: HistoricalPacer | None = None) -> None:
        self.arctic_uri = arctic_uri
        self.library = library
        self.ib = ib
        self.pacer = pacer or HistoricalPacer()
        self._stores: dict[str, BarStore] = {}

    def store(self, library: str | None = None) -> BarStore:
        name = library or self.library
        if name not in self._stores:
            self._stores[name] = BarStore(self.arctic_uri, name)
        return self._stores[name]

    def get_data_from_arctic(self, library: str, symbol: str, start: object = None,
                             end: object = None) -> pd.DataFrame:
        """Rows of `symbol` (a storage name such as ``SPY.1d``) with time in [start, end]."""
        return self.store(library).read(symbol, start, end)

    def history(self, instrument: Instrument, bar_size: str, start: object,
                end: object = None) -> pd.DataFrame:
        """Bars starting in [start, end]: stored ones, plus the missing ranges fetched through IB
        (when an ib connection was given) and stored first."""
        if self.ib is not None:
            adapter.util.run(self.fetch(instrument, bar_size, start, end))
        return self._read(instrument, bar_size, start, end)

    async def history_async(self, instrument: Instrument, bar_size: str, start: object,
                            end: object = None) -> pd.DataFrame:
        if self.ib is not None:
            await self.fetch(instrument, bar_size, start, end)
        return self._read(instrument, bar_size, start, end)

    async def fetch(self, instrument: Instrument, bar_size: str, start: object,
                    end: object = None, now: pd.Timestamp | None = None) -> FetchResult:
        """Store the missing bars of [start, end] (needs the ib connection). `now` is the
        venue's time, asked of the venue when not given."""
        if self.ib is None:
            raise RuntimeError("DataManager has no IB connection to fetch with")
        fetcher = HistoricalFetcher(self.ib, self.store(), self.pacer)
        if now is None:
            now = utc(pd.Timestamp(await self.ib.reqCurrentTimeAsync()))  # the venue's clock
        return await fetcher.run(plan(self.store(), instrument, bar_size, start, end, now))

    def _read(self, instrument: Instrument, bar_size: str, start: object,
              end: object) -> pd.DataFrame:
        return self.store().read(storage_name(instrument, bar_size), utc(start),
                                 None if end is None else utc(end))
