"""The replay as it was before it was made fast (issue 15), kept as the oracle of
test_sdk_backtest_reference.py: one Bar and three Timestamps made per bar, every bar matched
against the open orders, settled and valued through BacktestContext's public methods,
whether or not anything can have changed (ReferenceContext). Setup, commissions' schedule and
the restart are `backtest.run`'s own."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ats.sdk import Bar, Instrument, Params, Strategy
from ats.sdk.backtest import (
    BacktestContext,
    BacktestResult,
    FillAt,
    _dispatch,
    _regular_hours,
    _restart,
    _run_schedule,
    _touch_price,
    _utc_ns,
    venue_commission,
)
from ats.sdk.bars import BAR_SIZES, COLUMNS, bar_ends, bar_starts
from ats.sdk.orders import Fill, OrderHandle, OrderRequest
from ats.sdk.ticks import Tick
from ats.sdk.weights import FULL_WEIGHTS


class ReferenceContext(BacktestContext):
    """BacktestContext with its valuing, matching and settling as they were: recomputed from
    the book and the orders at each call, times compared as Timestamps."""

    def equity(self) -> float:
        total = self._cash
        for key, qty in self._positions.items():
            if qty:
                inst = self.instruments.get(key)
                mult = inst.multiplier if inst is not None else 1.0
                total += qty * self._prices.get(key, 0.0) * mult
        return total

    def match_bar(self, bar: Bar, market: bool = True,
                  opened: pd.Timestamp | None = None) -> list[tuple[Fill, OrderHandle]]:
        began = bar.time if opened is None else opened
        out = []
        for h in [o for o in self._open.values() if o.request.instrument.key == bar.instrument
                  and self.placed_at.get(o.local_id, began) <= began]:
            px = _touch_price(h.request, bar, market)
            if px is not None:
                out.append((self.fill(h, h.remaining, px, bar.time), h))
        return out

    def fill_market_at_close(self) -> list[tuple[Fill, OrderHandle]]:
        now = self.now()
        out = []
        for h in [o for o in self._open.values() if o.request.order_type == "MKT"
                  and self.placed_at.get(o.local_id, now) >= now]:
            px = self._prices.get(h.request.instrument.key)
            if px is not None:
                out.append((self.fill(h, h.remaining, px, now), h))
        return out

    def settle_expired(self) -> list[tuple[Fill, OrderHandle]]:
        if not any(qty and key in self.instruments and self.instruments[key].expiry
                   for key, qty in self._positions.items()):
            return []
        today = self.now().tz_convert(None).strftime("%Y%m%d")
        out = []
        for key, qty in list(self._positions.items()):
            inst = self.instruments.get(key)
            if qty and inst is not None and inst.expiry and inst.expiry < today:
                h = OrderHandle(f"bt-settle-{next(self._ids)}", OrderRequest(inst, -qty))
                h.reason = "expired: cash settled at last price"
                out.append((self.fill(h, -qty, self._prices.get(key, 0.0), self.now()), h))
        return out

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


@dataclass
class _Step:
    stamp: int
    end: int
    bars: list[Bar]
    opens: list[int]

    def by_open(self) -> list[tuple[int, list[Bar]]]:
        out: dict[int, list[Bar]] = {}
        for o, b in sorted(zip(self.opens, self.bars, strict=True), key=lambda p: p[0]):
            out.setdefault(o, []).append(b)
        return list(out.items())


def _merge(bars: Mapping[Instrument, pd.DataFrame], sizes: Mapping[str, str], default_size: str,
           calendar: str) -> list[_Step]:
    per_end: dict[int, tuple[list[Bar], list[int]]] = {}
    for inst, df in bars.items():
        if df.empty:
            continue
        idx = pd.DatetimeIndex(df.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        size = sizes.get(inst.key, default_size)
        ends = bar_ends(idx.asi8, size, calendar).tolist()
        opens = bar_starts(idx.asi8, size, calendar).tolist()
        cols = [(df[c].to_numpy(dtype=float) if c in df else np.zeros(len(df))).tolist()
                for c in COLUMNS]
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


def reference_run(strategy_cls: type[Strategy[Any]], params: Params | Mapping[str, Any] | None,
                  bars: Mapping[Instrument, pd.DataFrame], *, cash: float = 1_000_000.0,
                  commission_per_share: float | None = None, fill_at: FillAt = "next_open",
                  warmup: int = 0,
                  restart_at: Sequence[pd.Timestamp] = ()) -> BacktestResult:
    if params is None:
        params = strategy_cls.params_type()
    elif not isinstance(params, Params):
        params = strategy_cls.params_type.from_mapping(params)
    ctx = ReferenceContext(cash, instruments={i.key: i for i in bars},
                           commission_per_share=commission_per_share)
    strat = strategy_cls(strategy_cls.__name__.lower(), params, ctx, FULL_WEIGHTS)
    sizes = {key: spec.bar_size for key, spec in strat.specs().items()}
    bar_size = min([*sizes.values()] or ["1d"], key=lambda s: BAR_SIZES[s])
    bars = _regular_hours(bars, strat)
    steps = _merge(bars, sizes, bar_size, strat.calendar)
    times = np.array([st.stamp for st in steps], dtype=np.int64)
    equity = np.empty(len(steps))
    started = False
    restarts = sorted(pd.Timestamp(t) for t in restart_at)
    stamps: dict[Instrument, np.ndarray] = {}
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
    fills = pd.DataFrame(
        [(f.time, f.instrument, f.quantity, f.price, f.commission, f.local_id) for f in ctx.fills],
        columns=["time", "instrument", "quantity", "price", "commission", "local_id"],
    )
    return BacktestResult(pd.Series(equity, index=pd.DatetimeIndex(times, tz="UTC"),
                                    name="equity"), fills, ctx.orders, strat, ctx)
