from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from ats.sdk import (
    BarSpec,
    Future,
    Instrument,
    OrderHandle,
    OrderRequest,
    Params,
    Stock,
    Strategy,
    Weights,
    backtest,
    param,
)
from ats.sdk.backtest import BacktestContext, venue_commission
from ats.sdk.testkit import daily_bars, intraday_bars
from ats.sim.commissions import FUTURE_PER_CONTRACT, US_MIN_PER_ORDER, US_TIERS

SPY, QQQ = Stock("SPY"), Stock("QQQ")


@dataclass(frozen=True)
class ScriptParams(Params):
    qty: float = param(10.0, "qty")
    order_type: str = param("MKT", "type")
    limit: float = param(0.0, "limit")
    at_bar: int = param(0, "bar index to order on")


class Script(Strategy[ScriptParams]):
    """Orders once on bar number `at_bar`; records what it saw."""

    params_type = ScriptParams

    def subscriptions(self):
        return [BarSpec(SPY, "1d", 5)]

    def on_init(self):
        self.n = 0
        self.seen_qqq: list[int] = []
        self.fills = []
        self.handle = None

    def on_start(self):
        pass

    def on_bar(self, bar):
        if bar.instrument != SPY.key:
            self.seen_qqq.append(len(self.closes(QQQ)))
            return
        if self.n == self.params.at_bar:
            p = self.params
            if p.order_type == "MKT":
                self.handle = self.order(SPY, p.qty)
            else:
                self.handle = self.order(SPY, p.qty, order_type="LMT", limit=p.limit)
        self.n += 1

    def on_fill(self, fill):
        self.fills.append(fill)

    def on_stop(self):
        pass


def test_market_order_fills_at_next_open_and_equity_tracks_position():
    df = daily_bars([100.0, 110.0, 120.0])  # opens: 100, 100, 110
    r = backtest.run(Script, {"qty": 10}, {SPY: df}, cash=10_000, commission_per_share=0.0)
    assert list(r.fills["price"]) == [100.0]
    assert r.fills["time"].iloc[0] == df.index[1]
    assert list(r.equity) == [10_000.0, 10_100.0, 10_200.0]
    assert r.strategy.fills[0].quantity == 10


def test_fill_at_close_fills_on_the_signal_bar():
    df = daily_bars([100.0, 110.0, 120.0])
    r = backtest.run(Script, {}, {SPY: df}, cash=10_000, commission_per_share=0.0,
                     fill_at="close")
    assert list(r.fills["price"]) == [100.0]
    assert list(r.equity) == [10_000.0, 10_100.0, 10_200.0]


def test_short_sale_profits_when_price_falls_and_pays_commission():
    df = daily_bars([100.0, 90.0, 80.0])
    r = backtest.run(Script, {"qty": -10}, {SPY: df}, cash=10_000, commission_per_share=0.01)
    assert r.equity.iloc[-1] == pytest.approx(10_000 + 10 * (100 - 80) - 0.1)


def test_limit_order_waits_until_touched():
    closes = [100.0, 99.0, 98.0, 95.0, 97.0]
    df = daily_bars(closes, spread=0.0)  # low = min(open, close)
    r = backtest.run(Script, {"qty": 5, "order_type": "LMT", "limit": 96.0}, {SPY: df})
    assert len(r.fills) == 1
    assert r.fills["price"].iloc[0] == 96.0 and r.fills["time"].iloc[0] == df.index[3]


def test_bars_of_one_time_are_all_in_the_windows_before_on_bar():
    df = daily_bars([1.0, 2.0, 3.0])
    r = backtest.run(Script, {"at_bar": 99}, {SPY: df, QQQ: df})
    assert r.strategy.seen_qqq == [1, 2, 3]


def test_futures_use_the_multiplier_and_settle_at_expiry():
    fut = Future("VXM", "20240105")
    idx = pd.DatetimeIndex(pd.to_datetime(
        ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]), tz="UTC")
    df = daily_bars([15.0, 15.0, 14.0, 13.0, 13.0], index=idx, spread=0.0)

    class ShortFut(Script):
        def on_bar(self, bar):
            if self.n == 0 and bar.instrument == fut.key:
                self.order(fut, -2)
            self.n += 1

    r = backtest.run(ShortFut, {}, {fut: df}, cash=100_000)
    assert r.fills["quantity"].tolist() == [-2.0, 2.0]  # entry, then expiry settlement
    fee = FUTURE_PER_CONTRACT["VXM"]  # the simulator's own schedule
    assert r.equity.iloc[-1] == pytest.approx(100_000 + 2 * 100 * (15 - 13) - 2 * 2 * fee)
    assert not r.context.positions()


def test_stock_commissions_follow_the_simulators_tiered_schedule():
    df = daily_bars([100.0, 100.0, 100.0, 100.0], spread=0.0)
    small = backtest.run(Script, {"qty": 10}, {SPY: df}, cash=1_000_000)
    large = backtest.run(Script, {"qty": 1000}, {SPY: df}, cash=1_000_000)
    assert small.fills["commission"].tolist() == [US_MIN_PER_ORDER]  # the per-order minimum
    assert large.fills["commission"].tolist() == [pytest.approx(1000 * US_TIERS[0][1])]
    flat = backtest.run(Script, {"qty": 10}, {SPY: df}, cash=1_000_000,
                        commission_per_share=0.01)
    assert flat.fills["commission"].tolist() == [pytest.approx(0.1)]


def test_warmup_bars_only_fill_windows():
    df = daily_bars(np.arange(1.0, 11.0))
    r = backtest.run(Script, {"at_bar": 0}, {SPY: df}, warmup=5)
    assert r.fills["time"].iloc[0] == df.index[6]


def test_params_given_as_mapping_are_validated():
    from ats.sdk import ParamError

    with pytest.raises(ParamError):
        backtest.run(Script, {"nope": 1}, {SPY: daily_bars([1.0, 2.0])})


def test_bad_fill_at_is_refused():
    with pytest.raises(ValueError):
        backtest.run(Script, {}, {SPY: daily_bars([1.0])}, fill_at="vwap")  # type: ignore[arg-type]


def test_intraday_bars_drive_the_clock_to_each_bar_close():
    df = intraday_bars(np.linspace(100, 101, 10), minutes=5)
    seen = []

    class Clock(Script):
        def on_bar(self, bar):
            seen.append(self.now - bar.time)

    backtest.run(Clock, {}, {SPY: df}, weights=Weights(), bar_size="5min")
    assert set(seen) == {pd.Timedelta(minutes=5)}


def test_commissions_follow_each_instrument_even_when_two_share_a_key():
    """The replay keeps the simulator's view of each contract by key; a second instrument of
    the same key (here in EUR: another schedule) is charged as itself, not as the first."""
    usd, eur = Stock("SAP"), Instrument("SAP", currency="EUR")
    assert usd.key == eur.key and usd != eur
    ctx = BacktestContext()
    when = pd.Timestamp("2024-03-04 15:00", tz="UTC")
    charged = []
    for inst in (usd, eur, usd):
        h = OrderHandle(f"o{len(charged)}", OrderRequest(inst, 100.0))
        charged.append((inst, ctx.fill(h, 100.0, 50.0, when).commission))
    shares = 0.0
    for inst, commission in charged:
        assert commission == venue_commission(inst, 0.0, 0.0, 100.0, 5000.0, shares)
        shares += 100.0
    assert charged[0][1] != charged[1][1]
