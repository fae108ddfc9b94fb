"""Replay bars through a strategy with simulated fills: the same driver calls the host makes.

What a callback sees depends only on its time, as live (ats/sdk/GUIDE.md, "What a callback
sees"). Bars of all instruments are merged by when they are complete (start + bar size; a
daily bar, stamped with its date, at its session's close on the strategy's calendar); bars
complete at the same time are delivered together with `handle_bars` at that time. Before them,
the clock steps through every scheduled callback due until then, each at its own time, seeing
only the bars complete by it and, as the last price, the open of a bar in progress.

An order fills only at prices that came after it was placed. A market order fills at the open
of the first bar of its instrument that begins at or after it was placed (a daily bar begins
at its session's open): an order placed in `on_bar` at the next bar, one placed at 10:00 on
daily bars at the next session's open. With `fill_at="close"`, a market order placed when a bar
completed (in `on_bar`, `on_tick` or a callback due at that very time) fills at that bar's
close, the price its decision saw; one placed by a callback while a bar was in progress fills
as with "next_open", never at the close of that bar. Limit and stop orders fill when a bar
beginning after they were placed touches them. Futures use their multiplier; shorts are
allowed; a future still held after its expiry date is settled at its last price.

A strategy's `tick_subscriptions()` get one tick per bar at its close (`Tick.from_bar`), after
`on_bar`.
"""

from __future__ import annotations

import array
import contextlib
import datetime
import functools
import gc
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pandas._libs.tslibs import ints_to_pydatetime

from ats.sdk.bars import BAR_SIZES, COLUMNS, Bar, bar_ends, bar_starts, make_bars
from ats.sdk.instrument import Instrument
from ats.sdk.orders import Fill, OrderHandle, OrderRequest, OrderStatus
from ats.sdk.params import Params
from ats.sdk.schedule import sessions
from ats.sdk.strategy import Strategy
from ats.sdk.ticks import Tick
from ats.sdk.weights import FULL_WEIGHTS, Weights

if TYPE_CHECKING:
    from ats.sim.universe import Instrument as VenueInstrument

FillAt = Literal["next_open", "close"]
_UTC = datetime.UTC  # what pandas makes of tz="UTC", without parsing the name


class BacktestContext:
    """An in-memory Context: positions, cash, orders and fills of one strategy."""

    def __init__(
        self,
        cash: float = 1_000_000.0,
        *,
        instruments: Mapping[str, Instrument] | None = None,
        commission_per_share: float | None = None,
        commission_per_contract: float = 1.0,
        now: pd.Timestamp | None = None,
    ) -> None:
        """Commissions: the simulator's schedule (`venue_commission`) unless
        `commission_per_share` is given, which charges that flat rate per share and
        `commission_per_contract` per futures contract."""
        self._cash = float(cash)
        # The clock is kept in ns; its Timestamp is made when asked for (a replay moves it
        # at every bar, a strategy reads it far less often).
        self._now_ts: pd.Timestamp | None = (
            now if now is not None else pd.Timestamp("1970-01-01", tz="UTC"))
        self._now_ns = int(self._now_ts.value)
        self.instruments: dict[str, Instrument] = dict(instruments or {})
        self.commission_per_share = commission_per_share
        self.commission_per_contract = commission_per_contract
        #: (year, month) -> stock shares traded
        self._monthly_shares: dict[tuple[int, int], float] = {}
        #: Instrument.key -> the instrument and the simulator's view of it (`_venue_instrument`)
        self._venue: dict[str, tuple[Instrument, VenueInstrument]] = {}
        self._positions: dict[str, float] = {}
        self._prices: dict[str, float] = {}
        self._open: dict[str, OrderHandle] = {}
        self.orders: list[OrderHandle] = []
        self.fills: list[Fill] = []
        self.placed_at: dict[str, pd.Timestamp] = {}  #: local_id -> when it was submitted
        self._placed_ns: dict[str, int] = {}  #: local_id -> when it was submitted, ns
        self._ids = itertools.count(1)
        #: positions held, as (key, qty, multiplier), and whether one has an expiry; None
        #: once a fill, a position set or a new instrument may have changed them
        self._book: tuple[list[tuple[str, float, float]], bool] | None = None

    # -- Context protocol
    def now(self) -> pd.Timestamp:
        ts = self._now_ts
        if ts is None:
            ts = self._now_ts = pd.Timestamp(self._now_ns, tz=_UTC)
        return ts

    def submit(self, req: OrderRequest) -> OrderHandle:
        now = self.now()
        h = OrderHandle(f"bt-{next(self._ids)}", req, created=now)
        self.orders.append(h)
        self.placed_at[h.local_id] = now
        self._placed_ns[h.local_id] = self._now_ns
        if req.instrument.key not in self.instruments:
            self.instruments[req.instrument.key] = req.instrument
            self._book = None  # a held key's multiplier may come with it
        if not req.instrument.tradable:
            h.status, h.reason = OrderStatus.REJECTED, f"{req.instrument.key} is not tradable"
        else:
            h.status = OrderStatus.SUBMITTED
            self._open[h.local_id] = h
        return h

    def cancel(self, h: OrderHandle) -> None:
        if self._open.pop(h.local_id, None) is not None:
            h.status = OrderStatus.CANCELLED

    def modify(
        self,
        h: OrderHandle,
        quantity: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> None:
        if h.local_id not in self._open:
            return
        r = h.request
        h.request = OrderRequest(
            r.instrument,
            r.quantity if quantity is None else quantity,
            r.order_type,
            r.limit if limit is None else limit,
            r.stop if stop is None else stop,
            r.tif,
        )

    def open_orders(self) -> list[OrderHandle]:
        return list(self._open.values())

    def position(self, inst: Instrument) -> float:
        return self._positions.get(inst.key, 0.0)

    def positions(self) -> dict[str, float]:
        return {k: v for k, v in self._positions.items() if v}

    def cash(self) -> float:
        return self._cash

    def equity(self) -> float:
        total = self._cash
        prices = self._prices
        for key, qty, mult in (self._book or self._held())[0]:
            total += qty * prices.get(key, 0.0) * mult
        return total

    def _held(self) -> tuple[list[tuple[str, float, float]], bool]:
        """The positions held, (key, qty, multiplier) in book order, and whether one of them
        has an expiry: made again only after a fill, a position set or an order for an
        instrument not seen before (`instruments` is otherwise only read)."""
        book = self._book
        if book is None:
            held, expiring = [], False
            for key, qty in self._positions.items():
                if qty:
                    inst = self.instruments.get(key)
                    held.append((key, qty, inst.multiplier if inst is not None else 1.0))
                    expiring = expiring or bool(inst is not None and inst.expiry)
            book = self._book = (held, expiring)
        return book

    def account_equity(self) -> float:
        return self.equity()

    def last_price(self, inst: Instrument) -> float | None:
        return self._prices.get(inst.key)

    def futures_chain(self, symbol: str) -> list[Instrument]:
        today = self.now().tz_convert(None).strftime("%Y%m%d")
        chain = [
            i
            for i in self.instruments.values()
            if i.sec_type == "FUT" and i.symbol == symbol and i.expiry and i.expiry >= today
        ]
        return sorted(chain, key=lambda i: i.expiry or "")

    # -- simulation
    def set_time(self, now: pd.Timestamp) -> None:
        self._now_ts = now
        self._now_ns = int(now.value)

    def set_price(self, key: str, price: float) -> None:
        self._prices[key] = price

    def set_position(self, inst: Instrument, qty: float) -> None:
        """Unit-test helper: hold `qty` without trading."""
        self.instruments.setdefault(inst.key, inst)
        self._positions[inst.key] = qty
        self._book = None

    def fill(self, h: OrderHandle, qty: float, price: float, time: pd.Timestamp) -> Fill:
        inst = h.request.instrument
        commission = self._commission(h, inst, qty, price, time)
        self._cash -= qty * price * inst.multiplier + commission
        self._positions[inst.key] = self._positions.get(inst.key, 0.0) + qty
        self._book = None
        total = h.filled + qty
        h.avg_price = (h.avg_price * h.filled + price * qty) / total if total else 0.0
        h.filled = total
        if abs(h.remaining) < 1e-9:
            h.status = OrderStatus.FILLED
            self._open.pop(h.local_id, None)
        else:
            h.status = OrderStatus.PARTIALLY_FILLED
        f = Fill(inst.key, qty, price, commission, time, h.local_id)
        self.fills.append(f)
        return f

    def _commission(self, h: OrderHandle, inst: Instrument, qty: float, price: float,
                    time: pd.Timestamp) -> float:
        if self.commission_per_share is not None:
            return abs(qty) * (self.commission_per_contract if inst.sec_type == "FUT"
                               else self.commission_per_share)
        month = (time.year, time.month)  # strftime("%Y%m") as a key, at a tenth of the cost
        done, size, mult = abs(h.filled), abs(qty), inst.multiplier
        # venue_commission(inst, ...), without hashing the instrument at every fill
        venue = self._venue.get(inst.key)
        if venue is None or (venue[0] is not inst and venue[0] != inst):
            venue = self._venue[inst.key] = (inst, _venue_instrument(inst))
        monthly = self._monthly_shares
        commission = _fill_commission()(venue[1], done, done * h.avg_price * mult, size,
                                        size * price * mult, monthly.get(month, 0.0))
        if inst.sec_type != "FUT":
            monthly[month] = monthly.get(month, 0.0) + size
        return commission

    def match_bar(self, bar: Bar, market: bool = True,
                  opened: pd.Timestamp | None = None) -> list[tuple[Fill, OrderHandle]]:
        """Fill working orders on `bar`'s instrument placed at or before the bar began trading
        (`opened`, default its time); market orders (at its open) only when `market`."""
        return self._match(bar, market, int((bar.time if opened is None else opened).value))

    def _match(self, bar: Bar, market: bool, began: int) -> list[tuple[Fill, OrderHandle]]:
        """`match_bar` with `opened` in ns."""
        out: list[tuple[Fill, OrderHandle]] = []
        key, placed = bar.instrument, self._placed_ns
        for h in [o for o in self._open.values() if o.request.instrument.key == key
                  and placed.get(o.local_id, began) <= began]:
            px = _touch_price(h.request, bar, market)
            if px is not None:
                out.append((self.fill(h, h.remaining, px, bar.time), h))
        return out

    def fill_market_at_close(self) -> list[tuple[Fill, OrderHandle]]:
        """Fill at the last price the market orders placed now (not before)."""
        out = []
        now, placed = self._now_ns, self._placed_ns
        for h in [o for o in self._open.values() if o.request.order_type == "MKT"
                  and placed.get(o.local_id, now) >= now]:
            px = self._prices.get(h.request.instrument.key)
            if px is not None:
                out.append((self.fill(h, h.remaining, px, self.now()), h))
        return out

    def settle_expired(self) -> list[tuple[Fill, OrderHandle]]:
        if not self._held()[1]:
            return []
        now = self.now()
        today = now.tz_convert(None).strftime("%Y%m%d")
        out = []
        for key, qty in list(self._positions.items()):
            inst = self.instruments.get(key)
            if qty and inst is not None and inst.expiry and inst.expiry < today:
                h = OrderHandle(f"bt-settle-{next(self._ids)}", OrderRequest(inst, -qty))
                h.reason = "expired: cash settled at last price"
                out.append((self.fill(h, -qty, self._prices.get(key, 0.0), now), h))
        return out


def venue_commission(inst: Instrument, cum_before: float, value_before: float, qty: float,
                     value: float, monthly_shares_before: float) -> float:
    """What the simulator charges a fill of `qty` worth `value` (price x qty x multiplier) of
    an order that had filled `cum_before` for `value_before`: its own function, given the
    simulator's view of the contract."""
    return _fill_commission()(_venue_instrument(inst), cum_before, value_before, qty, value,
                              monthly_shares_before)


@functools.cache
def _fill_commission() -> Callable[[VenueInstrument, float, float, float, float, float], float]:
    """The simulator's commission function, imported once (a fill at a time costs 1.6 us an
    import) and only when a replay charges it (ats.sim loads exchange_calendars)."""
    from ats.sim.commissions import fill_commission

    return fill_commission


@functools.lru_cache(maxsize=1024)
def _venue_instrument(inst: Instrument) -> VenueInstrument:
    """The simulator's view of the contract."""
    from ats.sim.universe import Instrument as VenueInstrument

    return VenueInstrument(
        con_id=0, symbol=inst.symbol, sec_type=inst.sec_type, exchange=inst.exchange,
        primary_exchange=inst.primary_exchange or "", currency=inst.currency,
        long_name=inst.symbol, multiplier=int(inst.multiplier),
        trading_class=inst.symbol if inst.sec_type == "FUT" else "")


def _touch_price(req: OrderRequest, bar: Bar, market: bool) -> float | None:
    buy = req.quantity > 0
    if req.order_type == "MKT":
        return bar.open if market else None
    if req.order_type == "LMT":
        assert req.limit is not None
        if buy and bar.low <= req.limit:
            return min(bar.open, req.limit)
        if not buy and bar.high >= req.limit:
            return max(bar.open, req.limit)
        return None
    assert req.stop is not None
    if buy and bar.high >= req.stop:
        trig = max(bar.open, req.stop)
    elif not buy and bar.low <= req.stop:
        trig = min(bar.open, req.stop)
    else:
        return None
    if req.order_type == "STP LMT":
        assert req.limit is not None
        if (buy and trig > req.limit) or (not buy and trig < req.limit):
            return None
    return trig


FILL_COLUMNS = ["time", "instrument", "quantity", "price", "commission", "local_id"]


@dataclass
class BacktestResult:
    equity: pd.Series  #: strategy equity at each bar time
    fills: pd.DataFrame  #: time, instrument, quantity, price, commission, local_id
    orders: list[OrderHandle]
    strategy: Strategy[Any]
    context: BacktestContext = field(repr=False, default_factory=BacktestContext)


def run(
    strategy_cls: type[Strategy[Any]],
    params: Params | Mapping[str, Any] | None,
    bars: Mapping[Instrument, pd.DataFrame],
    *,
    cash: float = 1_000_000.0,
    weights: Weights = FULL_WEIGHTS,
    commission_per_share: float | None = None,
    fill_at: FillAt = "next_open",
    bar_size: str | None = None,
    warmup: int = 0,
    name: str | None = None,
    restart_at: Sequence[pd.Timestamp] = (),
) -> BacktestResult:
    """Replay `bars` (per instrument: DataFrame indexed by time, OHLCV columns) through a strategy.

    Commissions follow the simulator's schedule (IBKR's tiered rates, per-order minimum and
    maximum, per-contract futures fees), or a flat `commission_per_share` when given.
    The first `warmup` bar times only fill the strategy's windows (as `warm_up` does live).
    Each instrument's bars are taken to be of its subscription's bar size (the smallest one
    in the subscriptions for an instrument without one); a `bar_size` given is taken for all.
    `restart_at`: before the first bar at or after each of these times, the strategy is
    replaced by a new instance the way the live host restarts a crashed one: built, warmed
    up from the bars so far, given its last saved state, started and reconciled with its
    book. A strategy that saves what it needs trades exactly as if it never restarted.
    """
    if fill_at not in ("next_open", "close"):
        raise ValueError("fill_at must be 'next_open' or 'close'")
    if params is None:
        params = strategy_cls.params_type()
    elif not isinstance(params, Params):
        params = strategy_cls.params_type.from_mapping(params)
    ctx = BacktestContext(
        cash,
        instruments={i.key: i for i in bars},
        commission_per_share=commission_per_share,
    )
    strat = strategy_cls(name or strategy_cls.__name__.lower(), params, ctx, weights)
    sizes = {key: spec.bar_size for key, spec in strat.specs().items()}
    if bar_size is None:
        bar_size = min([*sizes.values()] or ["1d"], key=lambda s: BAR_SIZES[s])
    else:
        sizes = {}  # the caller's size for every instrument

    bars = _regular_hours(bars, strat)
    steps = _merge(bars, sizes, bar_size, strat.calendar)
    with _fewer_collections():
        strat, equity = _replay(strat, ctx, steps, bars, fill_at, warmup,
                                sorted(pd.Timestamp(t) for t in restart_at))
    strat.stop()
    index = pd.DatetimeIndex(steps.stamps, tz="UTC")
    made = ctx.fills
    # By column: a tuple per fill would be as many new objects for the collector to walk.
    fills = pd.DataFrame({
        "time": [f.time for f in made], "instrument": [f.instrument for f in made],
        "quantity": [f.quantity for f in made], "price": [f.price for f in made],
        "commission": [f.commission for f in made], "local_id": [f.local_id for f in made],
    }) if made else pd.DataFrame([], columns=FILL_COLUMNS)
    return BacktestResult(pd.Series(equity, index=index, name="equity"), fills, ctx.orders,
                          strat, ctx)


#: the garbage collector's first threshold while a replay runs (Python's default: 700)
REPLAY_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while a replay runs (the thresholds are restored after).

    A replay keeps every order and fill it makes: objects that live as long as its result.
    With the default thresholds they set off a full collection of the whole heap every few
    tens of thousands (5 in a replay of 1M bars of the SMA crossover, a tenth of its time);
    with 10,000, none. Cyclic garbage is still collected, every 10,000 net allocations."""
    before = gc.get_threshold()
    if 0 < before[0] < REPLAY_GC_THRESHOLD:
        gc.set_threshold(REPLAY_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _replay(strat: Strategy[Any], ctx: BacktestContext, steps: _Steps,
            bars: Mapping[Instrument, pd.DataFrame], fill_at: FillAt, warmup: int,
            restarts: list[pd.Timestamp]) -> tuple[Strategy[Any], np.ndarray]:
    """Drive `strat` through every step; returns the strategy (a new one after a restart)
    and the equity after each step.

    Each step, in order: the clock to the step's time; for the bars grouped by when they
    began trading, the callbacks due by then, then fills at their open, then their opens as
    prices; the callbacks due before the bars' end; their closes as prices; the bars
    (`handle_bars`) and their ticks; the callbacks due at the end; fills at the close and
    expired futures; the equity. What cannot happen is skipped without being asked for:
    matching when no order is open, the schedule when it has no rule, settling when no
    future is held, an open as the price when nothing can read it before the close replaces
    it (a step of one bar and no scheduled callback).
    """
    # Doubles in C, not a list of floats: a list the collector would walk at every
    # collection of the generation it sits in (a million entries at 1M bars).
    equity = array.array("d")
    record = equity.append
    started = False
    stamps: dict[Instrument, np.ndarray] = {}  # each instrument's bar times, once restarted
    prices = ctx._prices
    close_fills = fill_at == "close"
    for first, chunk in steps.chunks():
        ptr, bars_at, began_at = chunk.ptr, chunk.bars, chunk.opens
        handle_bars = strat.handle_bars
        for j, (stamp, end) in enumerate(zip(chunk.stamps, chunk.ends, strict=True)):
            a, b = ptr[j], ptr[j + 1]
            group = bars_at[a:b]
            if restarts:
                ts = pd.Timestamp(stamp, tz="UTC")
                while restarts and ts >= restarts[0]:
                    restarts.pop(0)
                    if started:
                        stamps = stamps or {i: _utc_ns(df) for i, df in bars.items()}
                        strat = _restart(strat, bars, stamps, ts)
                        handle_bars = strat.handle_bars
            # ctx.set_time(max(stamp, ctx.now())), without making a Timestamp nobody reads
            if stamp >= ctx._now_ns:
                ctx._now_ns, ctx._now_ts = stamp, None
            if not started and first + j >= warmup:
                strat.start()
                started = True
            rules = strat.schedule._rules  # none: no callback can be due
            if b == a + 1 and not rules:
                # The usual step: one bar, no callback to run before it completes.
                bar = group[0]
                opened = began_at[a]
                if opened >= ctx._now_ns:
                    ctx._now_ns, ctx._now_ts = opened, None
                if started and ctx._open:
                    _dispatch(strat, ctx._match(bar, True, opened))
                    if rules:  # a fill's handler added a callback: it may be due before the end
                        prices[bar.instrument] = bar.open
                        _run_schedule(strat, ctx, end, inclusive=False)
                prices[bar.instrument] = bar.close
            else:
                # One bar (the usual step) began trading at one time: no grouping to do.
                by_open = (((began_at[a], group),) if b == a + 1
                           else _by_open(began_at[a:b], group))
                for opened, opening in by_open:
                    # Callbacks due by the moment these bars began trading may fill at their
                    # open.
                    if rules:
                        _run_schedule(strat, ctx, opened, inclusive=True)
                    if opened >= ctx._now_ns:
                        ctx._now_ns, ctx._now_ts = opened, None
                    if started and ctx._open:
                        events = []
                        for bar in opening:
                            events.extend(ctx._match(bar, True, opened))
                        _dispatch(strat, events)
                    for bar in opening:
                        prices[bar.instrument] = bar.open
                if rules:
                    _run_schedule(strat, ctx, end, inclusive=False)
                for bar in group:
                    prices[bar.instrument] = bar.close
            if end >= ctx._now_ns:
                ctx._now_ns, ctx._now_ts = end, None
            handle_bars(group)
            if started:
                ticks = strat._tick_specs  # strat.tick_specs(), a call saved per bar
                if ticks is None:
                    ticks = strat.tick_specs()
                if ticks:
                    for bar in group:
                        if bar.instrument in ticks:
                            strat.handle_tick(Tick.from_bar(bar, pd.Timestamp(end, tz="UTC")))
            if strat.schedule._rules:  # on_bar may have added one
                _run_schedule(strat, ctx, end, inclusive=True)
            if started:
                if close_fills and ctx._open:
                    _dispatch(strat, ctx.fill_market_at_close())
                held, expiring = ctx._book or ctx._held()
                if expiring:  # a future is held
                    _dispatch(strat, ctx.settle_expired())
                    held = (ctx._book or ctx._held())[0]
            else:
                held = (ctx._book or ctx._held())[0]
            # ctx.equity(), the same sum in the same order
            total = ctx._cash
            for key, qty, mult in held:
                total += qty * prices.get(key, 0.0) * mult
            record(total)
    return strat, np.frombuffer(equity, dtype=np.float64).copy()


def _regular_hours(bars: Mapping[Instrument, pd.DataFrame],
                   strat: Strategy[Any]) -> dict[Instrument, pd.DataFrame]:
    """Intraday bars of a `regular_hours` subscription cut to the calendar's sessions."""
    specs = strat.specs()
    out = {}
    for inst, df in bars.items():
        spec = specs.get(inst.key)
        if spec is not None and spec.regular_hours and spec.bar_size != "1d" and len(df):
            idx = pd.DatetimeIndex(df.index)
            idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
            df = df[sessions(strat.calendar).in_hours(idx.asi8)]
        out[inst] = df
    return out


def _utc_ns(df: pd.DataFrame) -> np.ndarray:
    idx = pd.DatetimeIndex(df.index)
    utc = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return np.asarray(utc.asi8, dtype=np.int64)


def _restart(old: Strategy[Any], bars: Mapping[Instrument, pd.DataFrame],
             stamps: Mapping[Instrument, np.ndarray], before: pd.Timestamp) -> Strategy[Any]:
    state = json.loads(json.dumps(old.save_state()))  # only what survives the disk
    new = type(old)(old.name, old.params, old.ctx, old.weights)
    for inst, df in bars.items():
        ns = stamps[inst]
        if len(ns) < 2 or bool(np.all(np.diff(ns) >= 0)):
            new.warm_up(inst.key, df.iloc[: int(np.searchsorted(ns, before.value))])
        else:
            new.warm_up(inst.key, df[ns < before.value])
    new.load_state(state)
    new.start()
    new.reconcile(old.ctx.positions())
    return new


def _run_schedule(strat: Strategy[Any], ctx: BacktestContext, until: int,
                  inclusive: bool) -> None:
    """Run the scheduled callbacks due before `until` (ns; at it too when `inclusive`), each
    with the clock at its own time."""
    while (due := strat.schedule.next_due()) is not None and (
            due.value < until or (inclusive and due.value == until)):
        ctx.set_time(max(due, ctx.now()))
        strat.advance_clock(due)
        if strat.schedule.next_due() == due:
            return  # not running: its schedule does not advance


def _dispatch(strat: Strategy[Any], events: list[tuple[Fill, OrderHandle]]) -> None:
    for f, h in events:
        strat.handle_fill(f)
        strat.handle_order_status(h)


def _by_open(opens: list[int], bars: list[Bar]) -> Sequence[tuple[int, list[Bar]]]:
    """Bars complete at the same time, grouped by when they began trading, earliest first."""
    out: dict[int, list[Bar]] = {}
    for o, b in sorted(zip(opens, bars, strict=True), key=lambda p: p[0]):
        out.setdefault(o, []).append(b)
    return list(out.items())


#: Steps whose Bars are made at once from the arrays. Small, so that they die young: the
#: Bars of a chunk of 4096 outlived the GC's young generations, and the full collections that
#: followed walked them (25 of them in a replay of 1M bars, 7 with 128).
_CHUNK = 128


@dataclass
class _Chunk:
    """Consecutive steps with their bars made: step j holds bars[ptr[j]:ptr[j+1]]."""

    stamps: list[int]
    ends: list[int]
    ptr: list[int]
    bars: list[Bar]
    opens: list[int]  #: per bar: when it began trading


@dataclass
class _Steps:
    """Every bar of the replay as arrays, grouped into steps: the bars complete at the same
    time, as `handle_bars` receives them. Step n holds the entries ptr[n]:ptr[n+1], by
    instrument (in the order of the frames given), then by time."""

    keys: list[str]  #: instrument keys; `inst` indexes them
    stamps: np.ndarray  #: per step: the time of its equity row, its latest bar time, never back
    ends: np.ndarray  #: per step: when its bars are complete (ns)
    ptr: np.ndarray  #: per step, and one past the last: its first entry
    inst: np.ndarray  #: per entry: its instrument
    opens: np.ndarray  #: per entry: when it began trading (a daily bar: its session's open)
    ohlcv: np.ndarray  #: (5, entries): open, high, low, close, volume
    times: list[pd.DatetimeIndex]  #: per instrument: its entries' times, in entry order

    def chunks(self) -> Iterator[tuple[int, _Chunk]]:
        """The steps, `_CHUNK` at a time, each chunk with the index of its first step: the
        Bars of a replay are made as it goes, never all at once."""
        taken = [0] * len(self.keys)  # per instrument: the times made into bars so far
        for first in range(0, len(self.ends), _CHUNK):
            last = min(first + _CHUNK, len(self.ends))
            e0, e1 = int(self.ptr[first]), int(self.ptr[last])
            owners = self.inst[e0:e1]
            if len(owners) and owners[0] == owners[-1] and bool(np.all(owners == owners[0])):
                k = int(owners[0])
                keys = [self.keys[k]] * len(owners)
                times = _timestamps(self.times[k], taken[k], taken[k] + len(owners))
                taken[k] += len(owners)
            else:
                made = []
                for k, count in enumerate(np.bincount(owners, minlength=len(self.keys))):
                    made.append(iter(_timestamps(self.times[k], taken[k], taken[k] + count)))
                    taken[k] += int(count)
                held = owners.tolist()
                keys = [self.keys[k] for k in held]
                times = [next(made[k]) for k in held]
            o, h, lo, c, v = (self.ohlcv[i, e0:e1].tolist() for i in range(5))
            yield first, _Chunk(self.stamps[first:last].tolist(), self.ends[first:last].tolist(),
                                (self.ptr[first : last + 1] - e0).tolist(),
                                make_bars(keys, times, o, h, lo, c, v),
                                self.opens[e0:e1].tolist())


def _timestamps(times: pd.DatetimeIndex, start: int, stop: int) -> list[pd.Timestamp]:
    """`times[start:stop].tolist()`, made as pandas makes them, without slicing the index
    and iterating a generator per Timestamp."""
    arr = times.array
    made: list[pd.Timestamp] = ints_to_pydatetime(
        arr.asi8[start:stop], tz=arr.tz, box="timestamp", reso=arr._creso).tolist()
    return made


def _merge(bars: Mapping[Instrument, pd.DataFrame], sizes: Mapping[str, str], default_size: str,
           calendar: str) -> _Steps:
    """Every instrument's bars, grouped by when they are complete (each by its own
    subscription's bar size, `default_size` without one), in time order. A bar without a
    finite close is left out; a missing, zero or non-finite open is the close, such a high or
    low the larger or smaller of open and close."""
    keys: list[str] = []
    idxs: list[pd.DatetimeIndex] = []
    parts: list[tuple[np.ndarray, ...]] = []
    for inst, df in bars.items():
        if df.empty:
            continue
        idx = pd.DatetimeIndex(df.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        if "close" not in df:
            raise ValueError(f"bars for {inst.key} have no 'close' column")
        size = sizes.get(inst.key, default_size)
        o, h, lo, c, v = (df[col].to_numpy(dtype=float) if col in df else np.zeros(len(df))
                          for col in COLUMNS)
        keep = np.isfinite(c)
        o = np.where((o != 0) & np.isfinite(o), o, c)
        h = np.where((h != 0) & np.isfinite(h), h, np.maximum(o, c))
        lo = np.where((lo != 0) & np.isfinite(lo), lo, np.minimum(o, c))
        ends = bar_ends(idx.asi8, size, calendar)[keep]
        opens = bar_starts(idx.asi8, size, calendar)[keep]
        idxs.append(idx[keep])
        parts.append((np.full(len(ends), len(keys), dtype=np.int64), ends, opens,
                      idxs[-1].asi8.astype(np.int64, copy=False), o[keep], h[keep], lo[keep],
                      c[keep], v[keep]))
        keys.append(inst.key)
    if parts:
        cols = [np.concatenate(col) for col in zip(*parts, strict=True)]
    else:
        cols = [np.zeros(0, dtype=np.int64)] * 4 + [np.zeros(0)] * 5
    order = np.argsort(cols[1], kind="stable")  # by end; ties keep instrument, then time
    owner, ends, opens, stamp = (cols[i][order] for i in range(4))
    ohlcv = np.array([cols[i][order] for i in range(4, 9)]).reshape(5, len(order))
    first = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]]) if len(ends) else ends
    latest = np.maximum.reduceat(stamp, first) if len(ends) else stamp
    stamps = np.maximum.accumulate(np.maximum(latest, -(2**62)))
    offsets = np.cumsum([0] + [len(part[0]) for part in parts])
    times = [idx[order[owner == k] - offsets[k]] for k, idx in enumerate(idxs)]
    return _Steps(keys, stamps.astype(np.int64, copy=False),
                  ends[first].astype(np.int64, copy=False),
                  np.r_[first, len(ends)].astype(np.int64), owner, opens, ohlcv, times)
