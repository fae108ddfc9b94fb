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

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ats.sdk.bars import BAR_SIZES, COLUMNS, Bar, bar_ends, bar_starts
from ats.sdk.instrument import Instrument
from ats.sdk.orders import Fill, OrderHandle, OrderRequest, OrderStatus
from ats.sdk.params import Params
from ats.sdk.schedule import sessions
from ats.sdk.strategy import Strategy
from ats.sdk.ticks import Tick
from ats.sdk.weights import FULL_WEIGHTS, Weights

FillAt = Literal["next_open", "close"]


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
        self._now = now if now is not None else pd.Timestamp("1970-01-01", tz="UTC")
        self.instruments: dict[str, Instrument] = dict(instruments or {})
        self.commission_per_share = commission_per_share
        self.commission_per_contract = commission_per_contract
        self._monthly_shares: dict[str, float] = {}  #: "YYYYMM" -> stock shares traded
        self._positions: dict[str, float] = {}
        self._prices: dict[str, float] = {}
        self._open: dict[str, OrderHandle] = {}
        self.orders: list[OrderHandle] = []
        self.fills: list[Fill] = []
        self.placed_at: dict[str, pd.Timestamp] = {}  #: local_id -> when it was submitted
        self._ids = itertools.count(1)

    # -- Context protocol
    def now(self) -> pd.Timestamp:
        return self._now

    def submit(self, req: OrderRequest) -> OrderHandle:
        h = OrderHandle(f"bt-{next(self._ids)}", req, created=self._now)
        self.orders.append(h)
        self.placed_at[h.local_id] = self._now
        self.instruments.setdefault(req.instrument.key, req.instrument)
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
        for key, qty in self._positions.items():
            if qty:
                inst = self.instruments.get(key)
                mult = inst.multiplier if inst is not None else 1.0
                total += qty * self._prices.get(key, 0.0) * mult
        return total

    def account_equity(self) -> float:
        return self.equity()

    def last_price(self, inst: Instrument) -> float | None:
        return self._prices.get(inst.key)

    def futures_chain(self, symbol: str) -> list[Instrument]:
        today = self._now.tz_convert(None).strftime("%Y%m%d")
        chain = [
            i
            for i in self.instruments.values()
            if i.sec_type == "FUT" and i.symbol == symbol and i.expiry and i.expiry >= today
        ]
        return sorted(chain, key=lambda i: i.expiry or "")

    # -- simulation
    def set_time(self, now: pd.Timestamp) -> None:
        self._now = now

    def set_price(self, key: str, price: float) -> None:
        self._prices[key] = price

    def set_position(self, inst: Instrument, qty: float) -> None:
        """Unit-test helper: hold `qty` without trading."""
        self.instruments.setdefault(inst.key, inst)
        self._positions[inst.key] = qty

    def fill(self, h: OrderHandle, qty: float, price: float, time: pd.Timestamp) -> Fill:
        inst = h.request.instrument
        commission = self._commission(h, inst, qty, price, time)
        self._cash -= qty * price * inst.multiplier + commission
        self._positions[inst.key] = self._positions.get(inst.key, 0.0) + qty
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
        month = time.strftime("%Y%m")
        done = abs(h.filled)
        commission = venue_commission(inst, done, done * h.avg_price * inst.multiplier,
                                      abs(qty), abs(qty) * price * inst.multiplier,
                                      self._monthly_shares.get(month, 0.0))
        if inst.sec_type != "FUT":
            self._monthly_shares[month] = self._monthly_shares.get(month, 0.0) + abs(qty)
        return commission

    def match_bar(self, bar: Bar, market: bool = True,
                  opened: pd.Timestamp | None = None) -> list[tuple[Fill, OrderHandle]]:
        """Fill working orders on `bar`'s instrument placed at or before the bar began trading
        (`opened`, default its time); market orders (at its open) only when `market`."""
        began = bar.time if opened is None else opened
        out = []
        for h in [o for o in self._open.values() if o.request.instrument.key == bar.instrument
                  and self.placed_at.get(o.local_id, began) <= began]:
            px = _touch_price(h.request, bar, market)
            if px is not None:
                out.append((self.fill(h, h.remaining, px, bar.time), h))
        return out

    def fill_market_at_close(self) -> list[tuple[Fill, OrderHandle]]:
        """Fill at the last price the market orders placed now (not before)."""
        out = []
        for h in [o for o in self._open.values() if o.request.order_type == "MKT"
                  and self.placed_at.get(o.local_id, self._now) >= self._now]:
            px = self._prices.get(h.request.instrument.key)
            if px is not None:
                out.append((self.fill(h, h.remaining, px, self._now), h))
        return out

    def settle_expired(self) -> list[tuple[Fill, OrderHandle]]:
        if not any(
            qty and key in self.instruments and self.instruments[key].expiry
            for key, qty in self._positions.items()
        ):
            return []
        today = self._now.tz_convert(None).strftime("%Y%m%d")
        out = []
        for key, qty in list(self._positions.items()):
            inst = self.instruments.get(key)
            if qty and inst is not None and inst.expiry and inst.expiry < today:
                h = OrderHandle(f"bt-settle-{next(self._ids)}", OrderRequest(inst, -qty))
                h.reason = "expired: cash settled at last price"
                out.append((self.fill(h, -qty, self._prices.get(key, 0.0), self._now), h))
        return out


def venue_commission(inst: Instrument, cum_before: float, value_before: float, qty: float,
                     value: float, monthly_shares_before: float) -> float:
    """What the simulator charges a fill of `qty` worth `value` (price x qty x multiplier) of
    an order that had filled `cum_before` for `value_before`: its own function, given the
    simulator's view of the contract."""
    from ats.sim.commissions import fill_commission
    from ats.sim.universe import Instrument as VenueInstrument

    venue_inst = VenueInstrument(
        con_id=0, symbol=inst.symbol, sec_type=inst.sec_type, exchange=inst.exchange,
        primary_exchange=inst.primary_exchange or "", currency=inst.currency,
        long_name=inst.symbol, multiplier=int(inst.multiplier),
        trading_class=inst.symbol if inst.sec_type == "FUT" else "")
    return fill_commission(venue_inst, cum_before, value_before, qty, value,
                           monthly_shares_before)


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
    times = np.array([st.stamp for st in steps], dtype=np.int64)
    equity = np.empty(len(steps))
    started = False
    restarts = sorted(pd.Timestamp(t) for t in restart_at)
    stamps: dict[Instrument, np.ndarray] = {}  # each instrument's bar times, once restarted
    for n, st in enumerate(steps):
        ts = pd.Timestamp(st.stamp, tz="UTC")
        while restarts and ts >= restarts[0]:
            restarts.pop(0)
            if started:
                stamps = stamps or {i: _utc_ns(df) for i, df in bars.items()}
                strat = _restart(strat, bars, stamps, ts)
        ctx.set_time(max(ts, ctx.now()))
        if not started and n >= warmup:
            strat.start()
            started = True
        for opened, group in st.by_open():
            # Callbacks due by the moment these bars began trading may fill at their open.
            _run_schedule(strat, ctx, opened, inclusive=True)
            began = pd.Timestamp(opened, tz="UTC")
            ctx.set_time(max(began, ctx.now()))
            if started:
                events = []
                for bar in group:
                    events.extend(ctx.match_bar(bar, market=True, opened=began))
                _dispatch(strat, events)
            for bar in group:
                ctx.set_price(bar.instrument, bar.open)
        end = pd.Timestamp(st.end, tz="UTC")
        _run_schedule(strat, ctx, st.end, inclusive=False)
        for bar in st.bars:
            ctx.set_price(bar.instrument, bar.close)
        ctx.set_time(max(end, ctx.now()))
        strat.handle_bars(st.bars)
        if started:
            ticks = strat.tick_specs()
            for bar in st.bars:
                if bar.instrument in ticks:
                    strat.handle_tick(Tick.from_bar(bar, end))
        _run_schedule(strat, ctx, st.end, inclusive=True)
        if started:
            if fill_at == "close":
                _dispatch(strat, ctx.fill_market_at_close())
            _dispatch(strat, ctx.settle_expired())
        equity[n] = ctx.equity()
    strat.stop()
    index = pd.DatetimeIndex(times, tz="UTC")
    fills = pd.DataFrame(
        [(f.time, f.instrument, f.quantity, f.price, f.commission, f.local_id) for f in ctx.fills],
        columns=["time", "instrument", "quantity", "price", "commission", "local_id"],
    )
    return BacktestResult(pd.Series(equity, index=index, name="equity"), fills, ctx.orders,
                          strat, ctx)


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


@dataclass
class _Step:
    """Bars complete at the same time (`end`, ns), as `handle_bars` receives them."""

    stamp: int  #: the time of the step's equity row: its latest bar time, never going back
    end: int
    bars: list[Bar]
    opens: list[int]  #: per bar, when it began trading (a daily bar: its session's open)

    def by_open(self) -> list[tuple[int, list[Bar]]]:
        """The bars grouped by when they began trading, earliest first."""
        out: dict[int, list[Bar]] = {}
        for o, b in sorted(zip(self.opens, self.bars, strict=True), key=lambda p: p[0]):
            out.setdefault(o, []).append(b)
        return list(out.items())


def _merge(bars: Mapping[Instrument, pd.DataFrame], sizes: Mapping[str, str], default_size: str,
           calendar: str) -> list[_Step]:
    """Every instrument's bars, grouped by when they are complete (each by its own
    subscription's bar size, `default_size` without one), in time order."""
    per_end: dict[int, tuple[list[Bar], list[int]]] = {}
    for inst, df in bars.items():
        if df.empty:
            continue
        idx = pd.DatetimeIndex(df.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        if "close" not in df:
            raise ValueError(f"bars for {inst.key} have no 'close' column")
        size = sizes.get(inst.key, default_size)
        ends = bar_ends(idx.asi8, size, calendar).tolist()
        opens = bar_starts(idx.asi8, size, calendar).tolist()
        cols = [
            (df[c].to_numpy(dtype=float) if c in df else np.zeros(len(df))).tolist()
            for c in COLUMNS
        ]
        for ts, end, began, o, h, lo, c, v in zip(idx, ends, opens, *cols, strict=True):
            if not math.isfinite(c):
                continue
            o = o if o and math.isfinite(o) else c
            h = h if h and math.isfinite(h) else max(o, c)
            lo = lo if lo and math.isfinite(lo) else min(o, c)
            group, group_opens = per_end.setdefault(end, ([], []))
            group.append(Bar(inst.key, ts, o, h, lo, c, v))
            group_opens.append(began)
    steps: list[_Step] = []
    stamp = -(2**62)
    for end in sorted(per_end):
        group, group_opens = per_end[end]
        stamp = max(stamp, max(b.time.value for b in group))
        steps.append(_Step(stamp, end, group, group_opens))
    return steps
