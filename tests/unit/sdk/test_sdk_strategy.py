import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from ats.sdk import (
    Bar,
    BarSpec,
    Fill,
    Future,
    Index,
    OrderStatus,
    ParamError,
    Params,
    Stock,
    Strategy,
    Weights,
    param,
)
from ats.sdk.backtest import BacktestContext
from ats.sdk.testkit import daily_bars

SPY = Stock("SPY")


@dataclass(frozen=True)
class RecParams(Params):
    n: int = param(3, "n", min=1)


class Recorder(Strategy[RecParams]):
    params_type = RecParams

    def subscriptions(self):
        return [BarSpec(SPY, "1d", lookback=self.params.n)]

    def on_init(self):
        self.events: list[str] = []
        self.counter = 0

    def on_start(self):
        self.events.append("start")
        self.schedule.before_close(lambda: self.events.append("close"), minutes=15)

    def on_bar(self, bar):
        self.events.append(f"bar:{bar.close:g}:{len(self.closes(SPY))}")

    def on_fill(self, fill):
        self.events.append(f"fill:{fill.quantity:g}")

    def on_order_status(self, order):
        self.events.append(f"status:{order.status}")

    def on_params_changed(self, old, new):
        self.events.append(f"params:{old.n}->{new.n}")

    def on_stop(self):
        self.events.append("stop")

    def on_save(self):
        return {"counter": self.counter}

    def on_load(self, state):
        self.counter = state["counter"]


class Bare(Strategy[Params]):
    params_type = Params


def make(ctx=None, weights=None, cls=Recorder, params=None):
    weights = weights or Weights()
    ctx = ctx or BacktestContext(100_000.0, now=pd.Timestamp("2024-01-02 14:00", tz="UTC"))
    return cls("rec", params or cls.params_type(), ctx, weights), ctx


def bar(close: float, day: str = "2024-01-02") -> Bar:
    return Bar(SPY.key, pd.Timestamp(day, tz="UTC"), close, close, close, close, 100.0)


def test_warm_up_fills_window_before_start():
    s, _ = make()
    s.warm_up(SPY.key, daily_bars([1.0, 2.0, 3.0, 4.0]))
    assert list(s.closes(SPY)) == [2.0, 3.0, 4.0]
    assert list(s.bars(SPY)["close"]) == [2.0, 3.0, 4.0]


def test_handle_bar_updates_window_runs_schedule_then_on_bar():
    s, ctx = make()
    s.start()
    ctx.set_time(pd.Timestamp("2024-01-03 00:00", tz="UTC"))
    s.handle_bar(bar(10.0))
    assert s.events == ["start", "close", "bar:10:1"]


def test_bars_before_start_only_fill_the_window():
    s, _ = make()
    s.handle_bar(bar(10.0))
    assert s.events == [] and list(s.closes(SPY)) == [10.0]


def test_lifecycle_hooks_warn_when_not_overridden(caplog):
    s, _ = make(cls=Bare)
    with caplog.at_level(logging.WARNING, logger="strategy.rec"):
        s.start()
        s.stop()
        s.stop()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "on_start" in warnings[0] and "on_stop" in warnings[1]


def test_update_params_validates_and_notifies():
    s, _ = make()
    new = s.update_params({"n": "5"})
    assert new.n == 5 and s.params.n == 5 and s.events == ["params:3->5"]
    with pytest.raises(ParamError):
        s.update_params({"n": "0"})
    assert s.params.n == 5


def test_save_and_load_state_round_trip_through_json():
    import json

    s, _ = make()
    s.counter = 7
    state = json.loads(json.dumps(s.save_state()))
    t, _ = make()
    t.load_state(state)
    assert t.counter == 7 and state["params"] == {"n": 3}


def test_save_state_rejects_non_json_state():
    s, _ = make()
    s.on_save = lambda: {"when": pd.Timestamp("2024-01-01")}  # type: ignore[method-assign]
    with pytest.raises(TypeError, match="JSON"):
        s.save_state()


def test_order_target_percent_sizes_whole_shares_from_capital():
    s, ctx = make(weights=Weights(target=0.5, min=0.4, max=0.6))
    ctx.set_price(SPY.key, 333.0)
    h = s.order_target_percent(SPY, 0.2)
    # capital = 0.5 * 100_000; 20% = 10_000 -> 30 shares at 333
    assert h is not None and h.request.quantity == 30
    assert s.order_target_percent(SPY, 0.2) is None  # working order already covers it


def test_order_target_percent_uses_future_multiplier_and_shorts():
    fut = Future("VXM", "20240117")
    s, ctx = make(weights=Weights(target=1.0, min=0.9, max=1.0))
    ctx.set_price(fut.key, 15.0)
    h = s.order_target_percent(fut, -0.1)
    assert h is not None and h.request.quantity == -6  # 10_000 / (15 * 100) = 6.67 -> 6


def test_rebalance_to_weight_trades_only_outside_the_band():
    s, ctx = make(weights=Weights(target=0.5, min=0.4, max=0.6))
    ctx.set_price(SPY.key, 100.0)
    ctx.set_position(SPY, 450.0)  # 45_000 of ~100_000 equity (cash 100_000 + 45_000)
    # equity = 145_000 -> weight 0.31: below band -> back to 0.5 * 145_000 / 100 = 725
    h = s.rebalance_to_weight(SPY)
    assert h is not None and h.request.quantity == 725 - 450
    ctx.cancel(h)
    ctx.set_position(SPY, 725.0)
    assert s.rebalance_to_weight(SPY) is None  # 72_500 of 172_500 = 0.42, in band


def test_rebalance_in_band_places_no_order():
    s, ctx = make(weights=Weights(target=0.5, min=0.4, max=0.6))
    ctx.set_price(SPY.key, 100.0)
    ctx._cash = 50_000.0
    ctx.set_position(SPY, 500.0)  # 50_000 of 100_000
    assert s.rebalance_to_weight(SPY) is None


def test_roll_future_picks_next_contract_within_n_days():
    jan, feb, mar = (Future("VXM", e) for e in ("20240117", "20240214", "20240319"))
    ctx = BacktestContext(instruments={i.key: i for i in (jan, feb, mar)},
                          now=pd.Timestamp("2024-01-10 20:00", tz="UTC"))
    s, _ = make(ctx=ctx)
    assert s.roll_future(jan, 5) is None  # 7 days left
    ctx.set_time(pd.Timestamp("2024-01-12 20:00", tz="UTC"))
    assert s.roll_future(jan, 5) == feb


def test_orders_on_indices_are_rejected():
    s, _ = make()
    h = s.order(Index("VIX"), 1)
    assert h.status == OrderStatus.REJECTED and "not tradable" in (h.reason or "")


def test_fill_and_status_events_reach_hooks():
    s, ctx = make()
    h = s.order(SPY, 5)
    f = ctx.fill(h, 5, 100.0, ctx.now())
    s.handle_fill(f)
    s.handle_order_status(h)
    assert s.events == ["fill:5", "status:Filled"]
    assert isinstance(f, Fill) and s.position(SPY) == 5 and not s.open_orders()


def test_advance_clock_runs_schedules_without_bars():
    s, _ = make()
    s.start()
    s.advance_clock(pd.Timestamp("2024-01-02 20:50", tz="UTC"))
    assert s.events == ["start", "close"]


def test_params_of_wrong_type_are_refused():
    with pytest.raises(TypeError):
        Recorder("x", Params(), BacktestContext())


def test_closes_view_is_fast_numpy():
    s, _ = make()
    s.handle_bar(bar(1.0))
    assert isinstance(s.closes(SPY), np.ndarray)
