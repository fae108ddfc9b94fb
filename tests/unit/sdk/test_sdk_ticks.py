"""on_tick in a replay: one tick per bar of each instrument in `tick_subscriptions()`, at the
bar's close and its end, after on_bar; none for other instruments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ats.sdk import Bar, BarSpec, Params, Stock, Strategy, Tick, TickSpec, backtest
from ats.sdk.testkit import daily_bars, intraday_bars

SPY, QQQ = Stock("SPY"), Stock("QQQ")


class Listener(Strategy[Params]):
    params_type = Params

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(SPY, "5min", lookback=5), BarSpec(QQQ, "5min", lookback=5)]

    def tick_subscriptions(self) -> list[TickSpec]:
        return [TickSpec(SPY)]

    def on_init(self) -> None:
        self.events: list[tuple[str, str, pd.Timestamp]] = []
        self.ticks: list[Tick] = []

    def on_start(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        self.events.append(("bar", bar.instrument, self.now))

    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)
        self.events.append(("tick", tick.instrument, self.now))

    def on_stop(self) -> None:
        pass


def test_a_replay_gives_one_tick_per_bar_of_a_tick_subscription_at_its_close() -> None:
    spy = intraday_bars(np.linspace(100.0, 101.0, 12), minutes=5)
    qqq = intraday_bars(np.linspace(300.0, 290.0, 12), minutes=5)
    r = backtest.run(Listener, None, {SPY: spy, QQQ: qqq})
    ticks = r.strategy.ticks
    assert [t.instrument for t in ticks] == [SPY.key] * len(spy)
    assert [t.time for t in ticks] == list(spy.index + pd.Timedelta(minutes=5))
    assert [t.last for t in ticks] == list(spy["close"])
    assert all(t.bid == t.ask == t.last and t.mid == t.last for t in ticks)
    assert all(t.bid_size is None and t.last_size is None for t in ticks)
    # each tick comes after the on_bar of its bar, at the same time
    events = r.strategy.events
    for i, e in enumerate(events):
        if e[0] == "tick":
            assert ("bar", SPY.key, e[2]) in events[:i]


def test_a_strategy_without_tick_subscriptions_gets_no_ticks() -> None:
    class Quiet(Listener):
        def tick_subscriptions(self) -> list[TickSpec]:
            return []

    r = backtest.run(Quiet, None, {SPY: daily_bars([1.0, 2.0, 3.0])})
    assert r.strategy.ticks == []


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_a_tick_subscription_needs_a_positive_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="min_interval"):
        TickSpec(SPY, min_interval=interval)
