"""Download missing bars through an IB connection, paced, one write per request chunk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ats.barsizes import SIZES
from ats.data.naming import format_symbol, storage_name
from ats.data.pacing import HistoricalPacer, HistRequest
from ats.data.ranges import (
    Chunk,
    Coverage,
    Direction,
    chunks,
    extend,
    ib_duration,
    ib_end,
    keep,
    missing,
    request_end,
    utc,
)
from ats.data.store import BarStore
from ats.ib import adapter
from ats.ib.parsing import bars_to_df, to_contract
from ats.sdk.instrument import Instrument

log = logging.getLogger("ats.data.fetch")

#: ib_async treats these as warnings; 321 still fails a historical request.
_WARNINGS = frozenset({105, 110, 165, 329, 399, 404, 434, 492, 10167})
NO_DATA_TEXT = "returned no data"


class FetchError(Exception):
    """IB refused or did not answer a request; what was stored before it is kept."""

    def __init__(self, symbol: str, message: str, code: int = 0) -> None:
        super().__init__(f"{symbol}: {message}" + (f" (IB error {code})" if code else ""))
        self.symbol = symbol
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Step:
    chunk: Chunk
    direction: Direction


@dataclass(frozen=True)
class FetchPlan:
    """The requests still needed to cover [start, complete_by) for one instrument."""

    instrument: Instrument
    bar_size: str
    name: str
    start: pd.Timestamp
    complete_by: pd.Timestamp
    steps: tuple[Step, ...]


@dataclass
class FetchResult:
    name: str
    requests: int = 0
    rows: int = 0
    writes: int = 0
    waited: float = 0.0
    empty_head: bool = False  #: the venue had nothing older; the head was closed early
    errors: list[str] = field(default_factory=list)


def plan(store: BarStore, inst: Instrument, bar_size: str, start: object,
         end: object = None, now: pd.Timestamp | None = None) -> FetchPlan:
    """What to request so bars starting in [start, min(end, now)) are stored."""
    now = utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    complete_by = min(utc(end), now) if end is not None else now
    name = storage_name(inst, bar_size)
    begin = utc(start)
    gaps = missing(begin, complete_by, bar_size, store.coverage(name))
    steps = tuple(Step(c, g.direction) for g in gaps for c in chunks(g, bar_size))
    return FetchPlan(inst, bar_size, name, begin, complete_by, steps)


ChunkCallback = Callable[[Step, int], None]


class HistoricalFetcher:
    """Runs FetchPlans over a connected ib_async IB (async API only)."""

    def __init__(self, ib: adapter.IB, store: BarStore, pacer: HistoricalPacer | None = None, *,
                 what: str = "TRADES", use_rth: bool = False, timeout: float = 120.0) -> None:
        self.ib = ib
        self.store = store
        self.pacer = pacer or HistoricalPacer()
        self.what = what
        self.use_rth = use_rth
        self.timeout = timeout
        self._contracts: dict[str, adapter.Contract] = {}

    async def contract(self, inst: Instrument) -> adapter.Contract:
        """The qualified IB contract (cached); FetchError when the venue does not know it."""
        if inst.key in self._contracts:
            return self._contracts[inst.key]
        c = to_contract(inst)  # futures as IB lists them (ats.ib.parsing.FUTURE_ROOTS)
        await self.ib.qualifyContractsAsync(c)
        if c.conId:
            self._contracts[inst.key] = c
            return c
        raise FetchError(format_symbol(inst), "no security definition found", 200)

    async def request(self, contract: adapter.Contract, inst: Instrument, bar_size: str,
                      end: pd.Timestamp, duration: str) -> pd.DataFrame:
        """One paced reqHistoricalData; raises FetchError on an IB error or timeout."""
        end_text = ib_end(end)
        req = HistRequest(inst.key, inst.exchange, self.what, bar_size, duration, end_text)
        await self.pacer.acquire_async(req)
        errors: list[tuple[int, str]] = []
        failed = asyncio.Event()

        def on_error(req_id: int, code: int, text: str, about: adapter.Contract | None = None,
                     *_: Any) -> None:
            # The client names the contract of the request an error answers: on a shared
            # connection (the broker's) other clients' order errors are not this request's.
            if about is not contract:
                return
            if req_id > 0 and code not in _WARNINGS and not 2100 <= code < 2200:
                errors.append((code, text))
                failed.set()

        self.ib.errorEvent += on_error
        task = asyncio.ensure_future(self.ib.reqHistoricalDataAsync(
            contract, endDateTime=end_text, durationStr=duration,
            barSizeSetting=SIZES[bar_size].ib_setting, whatToShow=self.what,
            useRTH=self.use_rth, formatDate=2, timeout=0))
        waiter = asyncio.ensure_future(failed.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, timeout=self.timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.ib.errorEvent -= on_error
            waiter.cancel()
        symbol = format_symbol(inst)
        if task not in done:
            task.cancel()
            if errors:
                code, text = errors[0]
                if NO_DATA_TEXT in text.lower():
                    return bars_to_df([])
                raise FetchError(symbol, text, code)
            raise FetchError(symbol, f"no answer within {self.timeout:.0f}s")
        return bars_to_df(task.result() or [])

    async def run(self, p: FetchPlan, on_step: ChunkCallback | None = None) -> FetchResult:
        """Request every step in order; each answer is stored (one write) before the next."""
        result = FetchResult(p.name)
        if not p.steps:
            return result
        contract = await self.contract(p.instrument)
        cov: Coverage | None = self.store.coverage(p.name)
        waited0 = self.pacer.waited
        skip_head = False
        for step in p.steps:
            if skip_head and step.direction == "back":
                if on_step is not None:
                    on_step(step, 0)
                continue
            chunk = step.chunk
            end = request_end(chunk, p.bar_size, p.complete_by)
            df = await self.request(contract, p.instrument, p.bar_size, end,
                                    ib_duration(chunk.start, end, p.bar_size))
            result.requests += 1
            rows = keep(df, chunk, p.bar_size, p.complete_by)
            if step.direction == "back" and rows.empty and _history_ended(df, chunk):
                # Nothing at or before this chunk: the venue's history starts later.
                chunk = Chunk(p.start, chunk.end)
                skip_head = result.empty_head = True
            cov = extend(cov, chunk, p.bar_size, p.complete_by)
            version = self.store.version(p.name)
            written = self.store.merge(p.name, rows, cov,
                                       record_coverage_only=step.direction == "back")
            result.rows += written
            result.writes += int(self.store.version(p.name) != version)
            log.info("%s %s..%s: %d bars, %d new", p.name, chunk.start, chunk.end, len(rows),
                     written)
            if on_step is not None:
                on_step(step, written)
        result.waited = self.pacer.waited - waited0
        return result


def _history_ended(df: pd.DataFrame, chunk: Chunk) -> bool:
    """True when an answer holds no bar at or before the chunk's end: nothing older exists.

    Only long chunks count (a short one may fall on a weekend or holiday)."""
    if chunk.end - chunk.start < pd.Timedelta(days=7):
        return False
    return df.empty or bool(pd.DatetimeIndex(df.index).min() >= chunk.end)
