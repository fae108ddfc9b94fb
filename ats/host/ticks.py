"""Ticks for a strategy's TickSpecs: the venue's market data (reqMktData), coalesced.

The client library reports every batch of ticker updates at once (`pendingTickersEvent`). This
module keeps only the latest state of each subscribed instrument and hands it to the strategy
at most once every `TickSpec.min_interval` seconds (wall time): a fast feed costs one dict write
per update, and the strategy's `on_tick` runs at a bounded rate however fast the venue sends,
so it cannot starve the host's loop (heartbeats, orders, bars). An update that arrives inside
the interval is not lost: the latest one is delivered when the interval ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

import pandas as pd

from ats.ib import adapter, parsing
from ats.sdk.ticks import Tick, TickSpec


class TickStream:
    """One strategy's tick subscriptions on one IB connection."""

    def __init__(self, ib: adapter.IB, clock: Callable[[], pd.Timestamp],
                 deliver: Callable[[Tick], None]) -> None:
        self.ib = ib
        self.clock = clock  #: the venue's time, that ticks are stamped with
        self.deliver = deliver
        self.wall = time.monotonic  #: the clock of the throttle; replaced in tests
        self.specs: dict[str, TickSpec] = {}  #: instrument key -> its subscription
        self.contracts: dict[str, adapter.Contract] = {}  #: instrument key -> qualified contract
        self.tickers: dict[int, str] = {}  #: conId -> instrument key, of the live requests
        self.delivered = 0  #: ticks handed to the strategy
        self._latest: dict[str, adapter.Ticker] = {}  #: key -> newest ticker not yet delivered
        self._next_at: dict[str, float] = {}  #: key -> wall time its next tick may go
        self._timer: asyncio.TimerHandle | None = None
        self._listening = False

    def subscribe(self, specs: list[TickSpec], contracts: dict[str, adapter.Contract]) -> None:
        """Request market data for each spec (their contracts qualified beforehand)."""
        if not self._listening:
            self.ib.pendingTickersEvent += self.on_pending
            self._listening = True
        for spec in specs:
            key = spec.instrument.key
            self.specs[key] = spec
            self.contracts[key] = contracts[key]
            self.ib.reqMktData(contracts[key], "", False, False)
            self.tickers[contracts[key].conId] = key

    def resubscribe(self) -> None:
        """After a reconnection or lost market data: the same requests again."""
        self.cancel(forget=False)
        self.subscribe(list(self.specs.values()), dict(self.contracts))

    def cancel(self, forget: bool = True) -> None:
        for key in list(self.tickers.values()):
            with contextlib.suppress(Exception):  # a dropped connection has nothing to cancel
                self.ib.cancelMktData(self.contracts[key])
        self.tickers.clear()
        self._latest.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if forget:
            self.specs.clear()
            self.contracts.clear()

    def on_pending(self, tickers: Iterable[adapter.Ticker]) -> None:
        """The client library's batch of updated tickers: remember the newest of ours."""
        for ticker in tickers:
            key = self.tickers.get(getattr(ticker.contract, "conId", 0))
            if key is not None:
                self._latest[key] = ticker
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None or not self._latest:
            return
        now = self.wall()
        wait = max(0.0, min(self._next_at.get(k, 0.0) for k in self._latest) - now)
        self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        """Deliver the newest tick of every instrument whose interval has passed."""
        self._timer = None
        now = self.wall()
        for key in [k for k in self._latest if self._next_at.get(k, 0.0) <= now]:
            ticker = self._latest.pop(key)
            self._next_at[key] = now + self.specs[key].min_interval
            self.delivered += 1
            self.deliver(parsing.tick(key, ticker, self.clock()))
        self._arm()
