"""Aggregate 5-second real-time bars into a strategy's bar size.

Intraday bars are clock-aligned buckets, emitted as soon as their last 5-second bar arrives
(when it was missed, as the next bucket begins), so that a bar is in the strategy's window from
its end on, as in a replay (ats/sdk/GUIDE.md, "What a callback sees"). Daily bars are
exchange sessions (XNYS by default): only 5-second bars inside a session's regular hours count,
the bar is stamped with the session date at 00:00 UTC (the stamp of historical daily bars, so a
live bar continues the warm-up history), and it is emitted as soon as the session's last
5-second bar arrives, not at the next day's first one. Overnight and weekend bars, which the
real-time feed delivers when useRTH is off, never leak into daily bars.

`Feed` is one strategy's market data: each subscription's history (warm-up) continued by its
aggregated real-time bars, the futures chains that name its contracts, and its ticks
(ats.host.ticks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ats.host.context import LiveContext
from ats.host.contracts import Contracts
from ats.host.ticks import TickStream
from ats.host.warmup import WarmUp, in_regular_hours
from ats.ib import adapter, parsing
from ats.ib.venueclock import VenueClock
from ats.sdk.bars import BAR_SIZES, Bar, BarSpec
from ats.sdk.schedule import Sessions, sessions
from ats.sdk.strategy import Strategy
from ats.sdk.ticks import Tick

log = logging.getLogger("ats.host")

SESSION_TZ = "America/New_York"
RT_BAR_NS = 5_000_000_000  #: reqRealTimeBars delivers 5-second bars
_DAY_NS = 86_400_000_000_000


def bucket(t: pd.Timestamp, bar_size: str) -> pd.Timestamp:
    """The start of the bar `t` falls in. Daily bars start at the New York session date."""
    if bar_size == "1d":
        local = t.tz_convert(SESSION_TZ)
        return pd.Timestamp(local.date()).tz_localize("UTC")
    return t.floor(BAR_SIZES[bar_size])


class BarAggregator:
    """Builds bars of one size for one instrument from 5-second bars (stamped at their start)."""

    def __init__(self, key: str, bar_size: str, calendar: str = "XNYS") -> None:
        self.key, self.bar_size = key, bar_size
        self._daily = bar_size == "1d"
        self._step = int(BAR_SIZES[bar_size].value)
        self._cal = sessions(calendar) if self._daily else None
        self._cur: list[float] | None = None
        self._start = 0  #: current bucket start (ns); for daily bars the session index
        self._end = 0  #: daily bars: the current session's close (ns)

    def add(self, t: pd.Timestamp, o: float, h: float, lo: float, c: float,
            v: float) -> Bar | None:
        """The bar this 5-second bar completes, if any. A 5-second bar without finite prices
        is dropped, as a missing one would be: one NaN would poison the whole bar."""
        if not math.isfinite(o + h + lo + c):
            return None
        if self._daily:
            return self._add_daily(int(t.value), o, h, lo, c, v)
        start = int(t.value) - int(t.value) % self._step
        done: Bar | None = None
        if self._cur is not None and start > self._start:
            done = self._emit(self._start)
        self._merge(start, o, h, lo, c, v)
        if done is None and int(t.value) + RT_BAR_NS >= start + self._step:
            return self._emit(start)  # its last 5-second bar: complete now
        return done

    def _add_daily(self, t: int, o: float, h: float, lo: float, c: float,
                   v: float) -> Bar | None:
        cal = self._cal
        assert cal is not None
        i = cal.session_index(t)
        if i < 0 or t >= cal.closes[i]:
            # Outside regular hours: closes an unfinished session whose last bar was missed.
            return self._flush() if self._cur is not None and t >= self._end else None
        done: Bar | None = None
        if self._cur is not None and i != self._start:
            done = self._flush()
        self._merge(i, o, h, lo, c, v)
        self._end = int(cal.closes[i])
        if t + RT_BAR_NS >= self._end:
            return self._flush()
        return done

    def _merge(self, start: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        cur = self._cur
        if cur is None:
            self._start, self._cur = start, [o, h, lo, c, max(v, 0.0)]
        else:
            cur[1], cur[2], cur[3] = max(cur[1], h), min(cur[2], lo), c
            cur[4] += max(v, 0.0)

    def _flush(self) -> Bar | None:
        cal = self._cal
        assert cal is not None
        day = int(cal.dates[self._start].value)
        return self._emit(day - day % _DAY_NS)

    def _emit(self, start_ns: int) -> Bar:
        assert self._cur is not None
        bar = Bar(self.key, pd.Timestamp(np.int64(start_ns), tz="UTC"), *self._cur)
        self._cur = None
        return bar


def is_forming(start: pd.Timestamp, bar_size: str, now: pd.Timestamp,
               calendar: str = "XNYS") -> bool:
    """Whether the bar that began at `start` is still open at `now` (so history's last bar
    must be rebuilt live rather than kept). A daily bar is stamped with its session date."""
    if bar_size != "1d":
        return bool(start + BAR_SIZES[bar_size] > now)
    cal = sessions(calendar)
    date = (start.tz_convert(None) if start.tzinfo is not None else start).normalize()
    if date not in cal.dates:
        return False  # not a session date: nothing of it is still forming
    return bool(now.value < cal.closes[cal.dates.get_loc(date)])


class FeedHost(Protocol):
    """What the Feed uses of the host process (ats.host.main.Host)."""

    @property
    def ib(self) -> adapter.IB: ...

    @property
    def clock(self) -> VenueClock: ...

    @property
    def stepped(self) -> bool:
        """A stepped simulator: its bars move the clock."""

    @property
    def sync_wanted(self) -> asyncio.Event:
        """Set when bars arrived (stepped: the clock loop syncs with the venue at once)."""

    @property
    def warm(self) -> WarmUp: ...

    @property
    def strategy(self) -> Strategy[Any] | None: ...

    def guard(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a strategy hook; its exception is counted, not raised."""


class Feed:
    """One strategy's bars and ticks: history, then the venue's real-time data."""

    def __init__(self, host: FeedHost, ctx: LiveContext, contracts: Contracts) -> None:
        self.host = host
        self.ctx = ctx
        self.contracts = contracts
        self.aggregators: dict[str, BarAggregator] = {}
        self.warmed: dict[str, pd.Timestamp] = {}  #: key -> start of its last history bar
        self.regular_hours: set[str] = set()  #: keys whose bars come from sessions only
        self.rt_bars: list[adapter.RealTimeBarList] = []
        #: market data of the strategy's TickSpecs, coalesced into its on_tick
        self.ticks = TickStream(host.ib, lambda: host.clock.now(), self._on_tick)

    # -- contracts --------------------------------------------------------------------------

    async def load_chains(self, strategy: Strategy[Any]) -> None:
        symbols = {s.instrument.symbol for s in strategy.subscriptions()
                   if s.instrument.sec_type == "FUT"}
        for symbol in sorted(symbols | set(getattr(strategy, "futures_symbols", ()))):
            details = await self.host.ib.reqContractDetailsAsync(
                parsing.future_chain_query(symbol))
            contracts = [adapter.details_contract(d) for d in details]
            listed = sorted(((parsing.from_contract(c), c) for c in contracts),
                            key=lambda pair: pair[0].expiry or "")
            self.ctx.chains[symbol] = [inst for inst, _ in listed]
            for inst, contract in listed:
                self.contracts.add(inst, contract)

    async def refresh_chains(self, strategy: Strategy[Any]) -> None:
        """Load the futures chains again (a new day lists new contracts and expires old
        ones), then warm up and stream the bars of any subscription that is new with them."""
        await self.load_chains(strategy)
        strategy.forget_specs()
        new = [s for s in strategy.subscriptions() if s.instrument.key not in self.aggregators]
        if new:
            log.info("new subscriptions after the chains' reload: %s",
                     ", ".join(s.instrument.key for s in new))
            await self.warm_up(strategy, new)
            self.subscribe_bars([s.instrument.key for s in new])
        await self.subscribe_ticks(strategy)

    # -- history ----------------------------------------------------------------------------

    async def warm_up(self, strategy: Strategy[Any],
                      specs: list[BarSpec] | None = None) -> None:
        """History of each subscription (the cache first, see ats.host.warmup), then a bar
        aggregator that continues it from the real-time bars."""
        cal = sessions(strategy.calendar)
        todo = strategy.subscriptions() if specs is None else specs
        for spec in todo:
            await self.contracts.qualify(spec.instrument)
            if spec.lookback > 0:
                self._warm(strategy, spec, await self._history(strategy, spec, cal))
            self.aggregators[spec.instrument.key] = BarAggregator(spec.instrument.key,
                                                                   spec.bar_size)
            if self._regular_hours_only(spec):
                self.regular_hours.add(spec.instrument.key)
        # Bars that completed while the later subscriptions warmed up (pacing can hold a
        # warm-up for a while): asked again, so the live bars continue the history unbroken.
        for spec in todo:
            last = self.warmed.get(spec.instrument.key)
            if last is not None and spec.bar_size != "1d" and \
                    self.host.clock.now() >= last + 2 * BAR_SIZES[spec.bar_size]:
                df = await self._history(strategy, spec, cal)
                self._warm(strategy, spec, df[df.index > last])

    async def _history(self, strategy: Strategy[Any], spec: BarSpec,
                       cal: Sessions) -> pd.DataFrame:
        """The subscription's completed bars up to now (the one still forming is built live)."""
        now = self.host.clock.now()
        df = await self.host.warm.bars(spec, self.contracts.by_key[spec.instrument.key], now,
                                       cal)
        if len(df) and self._regular_hours_only(spec):
            df = in_regular_hours(df, spec.bar_size, cal)
        if len(df) and is_forming(df.index[-1], spec.bar_size, self.host.clock.now(),
                                  strategy.calendar):
            df = df.iloc[:-1]
        return df

    def _warm(self, strategy: Strategy[Any], spec: BarSpec, df: pd.DataFrame) -> None:
        if len(df):
            key = spec.instrument.key
            strategy.warm_up(key, df)
            self.warmed[key] = df.index[-1]
            self.ctx.last_prices[key] = float(df["close"].iloc[-1])

    def _regular_hours_only(self, spec: BarSpec) -> bool:
        return spec.regular_hours and spec.bar_size != "1d"

    def _sessions(self) -> Sessions:
        strategy = self.host.strategy
        return sessions(strategy.calendar if strategy is not None else "XNYS")

    # -- real-time bars ---------------------------------------------------------------------

    def subscribe_bars(self, keys: list[str] | None = None) -> None:
        for key in self.aggregators if keys is None else keys:
            bars = self.host.ib.reqRealTimeBars(self.contracts.by_key[key], 5, "TRADES",
                                                key in self.regular_hours)
            bars.updateEvent += self.on_rt_bar
            self.rt_bars.append(bars)

    def unsubscribe_bars(self) -> None:
        for bars in self.rt_bars:
            with contextlib.suppress(Exception):
                self.host.ib.cancelRealTimeBars(bars)
        self.rt_bars.clear()

    def on_rt_bar(self, bars: adapter.RealTimeBarList, has_new_bar: bool) -> None:
        strategy = self.host.strategy
        if not has_new_bar or not bars or strategy is None:
            return
        b = bars[-1]
        # ib_async/ib_insync keep every real-time bar of a subscription in this list (about
        # 380 bytes each, 17,280 a day per subscription): only the newest is ever read.
        del bars[:-1]
        key = self.contracts.key_of.get(bars.contract.conId)
        if key is None:
            return
        t = pd.Timestamp(b.time)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        clock, stepped = self.host.clock, self.host.stepped
        if stepped:
            # Everything before this bar's start is complete: callbacks due by then run now,
            # after the bars that completed (below) and before anything later.
            clock.follow(t.value / 1e9)
            self.host.sync_wanted.set()
        self.ctx.last_prices[key] = float(b.close)
        if key in self.regular_hours and not self._sessions().in_hours(np.array([t.value]))[0]:
            return
        agg = self.aggregators[key]
        done = agg.add(t, b.open_, b.high, b.low, b.close, b.volume)
        if done is not None and key in self.warmed and done.time <= self.warmed[key]:
            done = None  # the warm-up history holds this bar already
        if done is not None:
            if stepped:
                # the bar's end: its last 5-second bar's (a daily bar's: the session's close)
                clock.follow(t.value / 1e9 + 5.0)
            clock.latest_bar = done.time
            self.host.guard(strategy.handle_bar, done)
        elif stepped:
            self.host.guard(strategy.advance_clock, clock.now())

    # -- ticks ------------------------------------------------------------------------------

    async def subscribe_ticks(self, strategy: Strategy[Any]) -> None:
        """Market data for the strategy's TickSpecs not streaming yet."""
        specs = [s for s in strategy.tick_specs().values() if s.instrument.key not in
                 self.ticks.specs]
        for spec in specs:
            await self.contracts.qualify(spec.instrument)
        if specs:
            self.ticks.subscribe(specs, self.contracts.by_key)

    def _on_tick(self, tick: Tick) -> None:
        if tick.last is not None:
            self.ctx.last_prices[tick.instrument] = tick.last
        strategy = self.host.strategy
        if strategy is not None:
            self.host.guard(strategy.handle_tick, tick)
