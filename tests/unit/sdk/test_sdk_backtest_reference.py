"""The fast replay (`backtest.run`) gives what the straightforward one gives
(reference_replay.py: a Bar and Timestamps made per bar, every bar matched, settled and valued
whether or not anything changed): the same equity at every step, the same fills and orders,
and the strategy sees the same bars, clock, prices, fills, ticks and callbacks, bit for bit.

The series are fixed (seeded) and exercise what the fast paths skip or batch: bars of three
instruments and bar sizes complete at the same and at different times, a daily future held
past its expiry, every order type, cancels and modifies, scheduled callbacks, ticks, bars
without a close, with a zero open, without high and low, out of order and repeated, a warm-up,
restarts, both fill rules and both commission schedules.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from reference_replay import reference_run

from ats.sdk import (
    Bar,
    BarSpec,
    Fill,
    Future,
    Instrument,
    OrderHandle,
    Params,
    Stock,
    Strategy,
    Tick,
    TickSpec,
    backtest,
    param,
)
from ats.sdk.backtest import REPLAY_GC_THRESHOLD, BacktestResult
from ats.sdk.testkit import daily_bars, intraday_bars, random_walk
from strategies.example import Example

SPY, QQQ = Stock("SPY"), Stock("QQQ")
ES = Future("ES", "20240307")
BY_KEY: dict[str, Instrument] = {i.key: i for i in (SPY, QQQ, ES)}
START = "2024-03-04"


@dataclass(frozen=True)
class BusyParams(Params):
    seed: int = param(1, "varies its decisions")


class Busy(Strategy[BusyParams]):
    """Decides from a hash of each bar's time (so a restart changes nothing): market, limit,
    stop and stop-limit orders, cancels and modifies; a callback every 30 minutes and one
    before the close order too. Records everything it is shown."""

    params_type = BusyParams

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(SPY, "1min", 30), BarSpec(QQQ, "5min", 10), BarSpec(ES, "1d", 5)]

    def tick_subscriptions(self) -> list[TickSpec]:
        return [TickSpec(QQQ)]

    def on_init(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def on_start(self) -> None:
        self.schedule.every(self.every, minutes=30)
        self.schedule.before_close(self.late, minutes=10)

    def coin(self, t: pd.Timestamp, salt: int) -> float:
        minute = t.value // 60_000_000_000
        return (minute * 2654435761 + 97 * salt + self.params.seed) % 1000 / 1000

    def look(self, what: str, *data: Any) -> None:
        self.seen.append((what, self.now, self.ctx.equity(), self.ctx.positions(),
                          sorted(h.local_id for h in self.open_orders()), *data))

    def on_bar(self, bar: Bar) -> None:
        inst = BY_KEY[bar.instrument]
        self.look("bar", bar, float(self.closes(inst)[-1]), len(self.window(inst)),
                  self.price(inst))
        r = self.coin(bar.time, len(bar.instrument))
        qty = float(1 + int(r * 1000) % 5) * (1 if int(r * 10_000) % 2 else -1)
        c = bar.close
        if r < 0.15:
            self.order(inst, qty)
        elif r < 0.25:
            self.order(inst, qty, order_type="LMT", limit=c * (1 - 0.0005 * np.sign(qty)))
        elif r < 0.30:
            self.order(inst, qty, order_type="STP", stop=c * (1 + 0.0005 * np.sign(qty)))
        elif r < 0.35:
            s = c * (1 + 0.0003 * np.sign(qty))
            self.order(inst, qty, order_type="STP LMT", stop=s,
                       limit=s * (1 + 0.0004 * np.sign(qty)))
        elif r < 0.40 and self.open_orders():
            self.cancel(self.open_orders()[0])
        elif r < 0.45 and self.open_orders():
            h = self.open_orders()[-1]
            if h.request.limit is not None:
                self.modify(h, limit=h.request.limit * 1.0002)

    def every(self) -> None:
        self.look("every", self.price(SPY), self.price(QQQ))
        if self.coin(self.now, 7) < 0.5:
            self.order_target_quantity(SPY, 0.0)

    def late(self) -> None:
        self.look("late", self.price(ES))
        if not self.position(ES):
            self.order(ES, 1.0)

    def on_tick(self, tick: Tick) -> None:
        self.look("tick", tick)

    def on_fill(self, fill: Fill) -> None:
        self.look("fill", fill)

    def on_order_status(self, order: OrderHandle) -> None:
        self.look("status", order.local_id, order.status, order.filled, order.avg_price)

    def on_stop(self) -> None:
        pass


def universe() -> dict[Instrument, pd.DataFrame]:
    spy = intraday_bars(random_walk(1200, 500.0, 0.0008, seed=11), START, minutes=1)
    spy.iloc[17, spy.columns.get_loc("close")] = np.nan  # no close: left out
    spy.iloc[40, spy.columns.get_loc("open")] = 0.0  # no open: the close
    spy = pd.concat([spy.iloc[:300], spy.iloc[[299]], spy.iloc[300:]])  # a repeated bar
    qqq = intraday_bars(random_walk(240, 400.0, 0.002, seed=12), START, minutes=5)
    qqq = qqq.drop(columns=["high", "low"]).iloc[::-1]  # no high and low, newest first
    es = daily_bars(random_walk(8, 5000.0, 0.01, seed=13), START)
    return {SPY: spy, QQQ: qqq, ES: es}


def assert_same(fast: BacktestResult, ref: BacktestResult) -> None:
    pd.testing.assert_series_equal(fast.equity, ref.equity, check_exact=True)
    pd.testing.assert_frame_equal(fast.fills, ref.fills, check_exact=True)

    def orders(r: BacktestResult) -> list[tuple[Any, ...]]:
        return [(h.local_id, h.request, h.status, h.filled, h.avg_price, h.created, h.reason)
                for h in r.orders]

    assert orders(fast) == orders(ref)
    assert fast.context.cash() == ref.context.cash()
    assert fast.context.positions() == ref.context.positions()


RUNS = {
    "next open, venue commissions": {},
    "at the close, flat commissions, warm-up": {"fill_at": "close", "commission_per_share": 0.005,
                                                "warmup": 50},
    "restarted twice": {"restart_at": [pd.Timestamp("2024-03-05 15:00", tz="UTC"),
                                       pd.Timestamp("2024-03-07 18:31", tz="UTC")]},
}


@pytest.mark.parametrize("how", list(RUNS))
def test_the_fast_replay_gives_what_the_reference_replay_gives(how: str) -> None:
    bars = universe()
    fast = backtest.run(Busy, None, bars, **RUNS[how])
    ref = reference_run(Busy, None, bars, **RUNS[how])
    assert len(ref.fills) > 50 and (ref.fills["instrument"] == ES.key).any()
    assert ref.fills["local_id"].str.startswith("bt-settle-").any()  # the future settled
    assert_same(fast, ref)
    assert fast.strategy.seen == ref.strategy.seen  # type: ignore[attr-defined]
    for at in RUNS[how].get("restart_at", []):  # the last instance began after each restart
        assert fast.strategy.seen[0][1] >= at  # type: ignore[attr-defined]


def test_the_bench_crossover_gives_what_the_reference_replay_gives() -> None:
    df = intraday_bars(random_walk(5000, vol=0.0005, seed=7), minutes=1)
    fast = backtest.run(Example, None, {SPY: df})
    ref = reference_run(Example, None, {SPY: df})
    assert len(ref.fills) > 100
    assert_same(fast, ref)


class Raises(Busy):
    def on_bar(self, bar: Bar) -> None:
        if len(self.window(SPY)) > 5:
            raise RuntimeError("a bug in on_bar")


@pytest.mark.parametrize("cls", [Busy, Raises])
def test_the_replay_collects_garbage_less_often_and_restores_the_thresholds(cls: type) -> None:
    seen: list[tuple[int, int, int]] = []

    class Watch(cls):  # type: ignore[valid-type,misc]
        def on_start(self) -> None:
            seen.append(gc.get_threshold())
            super().on_start()

    before = gc.get_threshold()
    bars = {SPY: universe()[SPY].iloc[:50]}
    if cls is Raises:
        with pytest.raises(RuntimeError, match="a bug in on_bar"):
            backtest.run(Watch, None, bars)
    else:
        backtest.run(Watch, None, bars)
    assert gc.get_threshold() == before
    assert seen[0][0] == max(before[0], REPLAY_GC_THRESHOLD) and seen[0][1:] == before[1:]
