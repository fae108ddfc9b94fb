"""The scripted venue of ats.sdk.testkit: refusals and partial fills reach a replayed strategy
the way they reach it live, after the hook that ordered returns."""

import numpy as np
import pandas as pd
import pytest

from ats.sdk import Bar, Fill, OrderHandle, Stock, Strategy, backtest
from ats.sdk.bars import BarWindow
from ats.sdk.testkit import Venue, daily_bars


class BuysEachBar(Strategy):
    """Buys 10 shares on every bar; records what it hears, and when."""

    def on_init(self) -> None:
        self.heard: list[tuple[str, str, float]] = []
        self.in_hook = False

    def on_start(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        self.in_hook = True
        self.order(Stock("AAA"), 10)
        self.in_hook = False

    def on_fill(self, fill: Fill) -> None:
        assert not self.in_hook
        self.heard.append(("fill", fill.local_id, fill.quantity))

    def on_order_status(self, order: OrderHandle) -> None:
        assert not self.in_hook, "news arrived inside the hook that ordered"
        self.heard.append((order.status, order.local_id, order.filled))


BARS = {Stock("AAA"): daily_bars(np.linspace(100, 104, 5))}


def test_a_refusal_arrives_as_a_rejected_status_after_the_hook_and_fills_nothing():
    v = Venue(refuse=1, reason="max_position exceeded")
    r = backtest.run(v.strategy(BuysEachBar), None, BARS, warmup=0)
    (h,) = v.refused
    assert (h.status, h.reason, h.filled) == ("Rejected", "max_position exceeded", 0.0)
    assert ("Rejected", h.local_id, 0.0) in r.strategy.heard
    assert h.local_id not in set(r.fills["local_id"])
    assert len(v.placed) == len(BARS[Stock("AAA")])  # the others went through


def test_a_partial_fill_arrives_as_a_fill_then_partly_filled_then_cancelled():
    v = Venue(fill_part=1, fraction=0.3)
    r = backtest.run(v.strategy(BuysEachBar), None, BARS)
    (h,) = v.partly_filled
    heard = [e for e in r.strategy.heard if e[1] == h.local_id]
    assert heard == [("fill", h.local_id, 3.0), ("PartiallyFilled", h.local_id, 3.0),
                     ("Cancelled", h.local_id, 3.0)]
    assert r.fills.loc[r.fills["local_id"] == h.local_id, "quantity"].tolist() == [3.0]


def test_orders_before_after_or_of_other_instruments_pass_untouched():
    idx = BARS[Stock("AAA")].index
    v = Venue(refuse=1, after=idx[2])
    backtest.run(v.strategy(BuysEachBar), None, BARS)
    (h,) = v.refused
    first_after = next(o for t, o in v.placed if t >= idx[2])
    assert h is first_after
    assert all(o.status == "Filled" for t, o in v.placed if t < idx[2])
    other = Venue(refuse=1, instrument="BBB.STK")
    backtest.run(other.strategy(BuysEachBar), None, BARS)
    assert other.refused == []


def test_a_fraction_outside_zero_and_one_is_refused_in_one_line():
    with pytest.raises(ValueError, match="fraction must be between 0 and 1"):
        Venue(fill_part=1, fraction=1.0)


def test_a_bar_without_a_close_is_left_out_of_the_window_like_a_missing_one():
    df = daily_bars(np.linspace(100, 104, 5))
    df.iloc[2] = float("nan")
    w = BarWindow(10)
    w.extend(df)
    assert list(w.times()) == list(df.index.drop(df.index[2]))
    assert np.isfinite(w.closes()).all()
    assert isinstance(w.frame(), pd.DataFrame)
