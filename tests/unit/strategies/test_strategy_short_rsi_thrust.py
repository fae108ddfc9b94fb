import numpy as np
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.short_rsi_thrust import (
    Held,
    ShortRsiThrust,
    ShortRsiThrustParams,
    Snapshot,
    rsi_thrust_entries,
    should_cover,
)

P = ShortRsiThrustParams(symbols=("AAA", "BBB", "CCC"), trend_days=40, max_names=2)


def test_entries_need_a_thrust_below_the_trend_ranked_by_rsi_within_the_cap():
    snaps = {
        "AAA": Snapshot(close=90, rsi=95, trend=100),
        "BBB": Snapshot(close=90, rsi=99, trend=100),
        "CCC": Snapshot(close=110, rsi=99, trend=100),  # above trend: no
        "DDD": Snapshot(close=90, rsi=92, trend=100),
    }
    assert rsi_thrust_entries(snaps, set(), P) == ["BBB", "AAA"]
    assert rsi_thrust_entries(snaps, {"AAA"}, P) == ["BBB"]
    assert rsi_thrust_entries(snaps, {"X", "Y"}, P) == []


def test_cover_on_reversion_stop_or_time():
    h = Held(entry=100.0)
    assert should_cover(Snapshot(95, 20, 110), h, P) == "reverted"
    assert should_cover(Snapshot(108.5, 60, 110), h, P) == "stop"
    assert should_cover(Snapshot(99, 60, 110), Held(100.0, days=10), P) == "time"
    assert should_cover(Snapshot(99, 60, 110), h, P) is None


def downtrend_with_thrust(n=60, thrust_at=50):
    """Steady fall, three +6% days (RSI(3) 91, still below the 40-day average), a flat day
    (the 15:45 callback sees the third day's close then, and its order fills the day after at
    that close), then a drop."""
    c = np.linspace(200, 100, n)
    c[thrust_at : thrust_at + 3] = c[thrust_at - 1] * 1.06 ** np.arange(1, 4)
    c[thrust_at + 3] = c[thrust_at + 2]
    c[thrust_at + 4 :] = c[thrust_at - 1] * 0.97
    return c


def test_backtest_shorts_the_thrust_and_covers_on_reversion():
    bars = {Stock("AAA"): daily_bars(downtrend_with_thrust()),
            Stock("BBB"): daily_bars(np.linspace(100, 150, 60))}  # uptrend: never shorted
    r = backtest.run(ShortRsiThrust, P, bars, cash=100_000.0)
    f = r.fills
    assert set(f["instrument"]) == {"AAA.STK"}
    entry = f.iloc[0]
    assert entry["quantity"] < 0
    assert abs(entry["quantity"] * entry["price"]) == pytest.approx(10_000, rel=0.1)
    assert f["quantity"].sum() == 0  # covered


def _thrust_strategy(ctx):
    """short_rsi_thrust on the evening of the thrust's third day (RSI(3) far above 90)."""
    s = ShortRsiThrust("srt", ShortRsiThrustParams(symbols=("AAA",), trend_days=40), ctx)
    bars = daily_bars(downtrend_with_thrust()).iloc[:53]
    s.warm_up("AAA.STK", bars)
    ctx.set_price("AAA.STK", float(bars["close"].iloc[-1]))
    ctx.set_time(bars.index[-1])
    s.start()
    return s


@pytest.mark.parametrize("when", ["at once", "later"])
def test_a_refused_short_is_not_recorded_as_held_and_is_tried_again(when):
    from ats.sdk.backtest import BacktestContext
    from ats.sdk.orders import OrderStatus

    class RiskRefuses(BacktestContext):
        def submit(self, req):
            h = super().submit(req)
            if when == "at once":
                h.status, h.reason = OrderStatus.REJECTED, "max_position exceeded"
                self._open.pop(h.local_id, None)
            return h

    ctx = RiskRefuses(100_000.0)
    s = _thrust_strategy(ctx)
    s.daily()
    assert len(ctx.orders) == 1
    if when == "later":
        assert "AAA" in s.held  # working: not shorted twice
        h = ctx.orders[0]
        h.status, h.reason = OrderStatus.REJECTED, "max_position exceeded"
        ctx._open.pop(h.local_id, None)
        s.handle_order_status(h)
    assert s.held == {}
    s.daily()  # the thrust is still there: a new decision tries again
    assert len(ctx.orders) == 2
