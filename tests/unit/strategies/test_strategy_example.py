import numpy as np
import pandas as pd
import pytest

from ats.sdk import Bar, ParamError, Stock, backtest
from ats.sdk.backtest import BacktestContext
from ats.sdk.testkit import intraday_bars, random_walk
from strategies.example import Example, ExampleParams, crossover_signal

SPY, QQQ = Stock("SPY"), Stock("QQQ")


def test_crossover_signal():
    assert crossover_signal(2.0, 1.0) == 1
    assert crossover_signal(1.0, 2.0) == -1
    assert crossover_signal(1.0, 1.0) == 0


def test_fast_must_be_shorter_than_slow():
    with pytest.raises(ParamError):
        ExampleParams(fast=20, slow=20)


def test_trades_small_size_often_on_minute_bars():
    c = 100 + np.sin(np.arange(300) / 10.0)
    r = backtest.run(Example, {}, {SPY: intraday_bars(c, minutes=1)})
    assert len(r.fills) >= 4
    assert set(r.fills["quantity"].abs()) <= {10.0, 20.0}
    assert r.context.position(SPY) in (-10.0, 10.0)


def test_long_only_when_shorting_disabled():
    c = 100 + np.sin(np.arange(300) / 10.0)
    r = backtest.run(Example, {"allow_short": "false"}, {SPY: intraday_bars(c, minutes=1)})
    pos = np.cumsum(r.fills["quantity"].to_numpy())
    assert pos.min() >= 0 and pos.max() == 10


class WindowExample(Example):
    """The crossover as it was first written: both averages summed over the window's closes
    at every bar. The incremental averages must decide exactly as it does."""

    def on_bar(self, bar: Bar) -> None:
        p = self.params
        c = self.closes(self.inst)
        if bar.instrument != self.inst.key or len(c) < p.slow:
            return
        sig = crossover_signal(float(c[-p.fast :].sum()) / p.fast,
                               float(c[-p.slow :].sum()) / p.slow)
        if sig < 0 and not p.allow_short:
            sig = 0
        target = sig * p.quantity
        if self.position(self.inst) + self.pending(self.inst) != target:
            self.order_target_quantity(self.inst, target)


def orders_of(ctx: BacktestContext) -> list[tuple[pd.Timestamp, float, str]]:
    return [(h.created, h.request.quantity, h.status) for h in ctx.orders]


@pytest.mark.parametrize("kw", [{}, {"warmup": 40, "restart_at": [pd.Timestamp(
    "2024-03-05 16:00", tz="UTC"), pd.Timestamp("2024-03-06 19:07", tz="UTC")]}])
@pytest.mark.parametrize("params", [{}, {"fast": 3, "slow": 8, "allow_short": "false"}])
def test_incremental_averages_trade_as_the_window_sums(kw, params):
    df = intraday_bars(random_walk(2000, vol=0.0008, seed=21), minutes=1)
    got = backtest.run(Example, params, {SPY: df}, **kw)
    want = backtest.run(WindowExample, params, {SPY: df}, **kw)
    assert len(want.fills) > 50
    pd.testing.assert_frame_equal(got.fills, want.fills, check_exact=True)
    pd.testing.assert_series_equal(got.equity, want.equity, check_exact=True)


def test_incremental_averages_follow_the_window_through_replaced_late_and_foreign_bars():
    """Driven as a host drives it: warm-up history, then bars one at a time, a bar sent again
    with another close, a bar older than the window's newest, two bars in one call, another
    instrument's bar, and a change of lengths."""
    history = intraday_bars(random_walk(60, vol=0.002, seed=4), minutes=1)
    live = intraday_bars(random_walk(400, vol=0.002, seed=5), "2024-03-05", minutes=1)
    runs = []
    for cls in (Example, WindowExample):
        rng = np.random.default_rng(6)  # the same closes sent again to both
        ctx = BacktestContext()
        s = cls("ex", ExampleParams(), ctx)
        s.warm_up(SPY.key, history)
        ctx.set_time(live.index[0])
        s.start()
        bars = [Bar(SPY.key, t, *row) for t, row in zip(live.index, live.to_numpy().tolist(),
                                                         strict=True)]
        for i, bar in enumerate(bars):
            ctx.set_time(bar.time + pd.Timedelta(minutes=1))
            if i == 200:
                s.update_params({"fast": 4, "slow": 12})
            if i % 37 == 5:  # sent again, another close
                s.handle_bars([bar])
                bar = Bar(bar.instrument, bar.time, bar.open, bar.high, bar.low,
                          bar.close * (1 + rng.normal(0, 0.01)), bar.volume)
            if i % 41 == 7:  # a late bar, older than the window's newest
                s.handle_bars([bars[i - 3]])
            if i % 53 == 9 and i + 1 < len(bars):  # two bars at once
                s.handle_bars([bar, bars[i + 1]])
                continue
            if i % 29 == 3:
                s.handle_bars([Bar(QQQ.key, bar.time, 1.0, 1.0, 1.0, 1.0, 1.0), bar])
                continue
            s.handle_bars([bar])
        runs.append(orders_of(ctx))
    assert len(runs[1]) > 20
    assert runs[0] == runs[1]
