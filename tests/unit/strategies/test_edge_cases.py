"""Each shipped strategy facing a refused order, a partial fill, a restart while it holds a
position, and a day with a missing bar; what it does is in its docstring ("Edge cases").

The venue's part is played by `ats.sdk.testkit.Venue` inside a real `backtest.run`: a refusal
or a partial fill reaches the strategy as it does live, after the hook that ordered returns.
The first order of each strategy's run over a synthetic universe is the one scripted. Runs
stop 40 bars after it, which is enough to see the strategy's next decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ats.sdk import Instrument, Stock, backtest
from ats.sdk.backtest import BacktestContext
from ats.sdk.loader import BUILTIN, load_strategy
from ats.sdk.orders import OrderHandle, OrderStatus
from ats.sdk.testkit import Venue, daily_bars, intraday_bars, random_walk, trading_days
from strategies.s2 import LONG_SPREAD, SHORT_SPREAD

NAMES = sorted(BUILTIN)
INTRADAY = {"vow": 5, "example": 1}
AFTER = 40  #: bars replayed after the scripted order

#: Defaults, except sie's momentum windows: shorter, so that it rotates within the bars.
PARAMS: dict[str, dict[str, Any]] = {"sie": {"lookbacks": (21, 63, 126)}}
#: When a refused entry is tried again: "next decision" (it decides from its book and its
#: rule each time, so the next decision orders again when the rule still says so) or
#: "next signal" (it enters on an event: a new one is needed).
RETRY = {"short_rsi_thrust": "next signal", "vow": "next signal"}
#: What a partly filled entry leads to: "top up" (the next decision orders the rest) or
#: "keep" (it manages what filled; its exit closes exactly that).
AFTER_PARTIAL = {"smag7": "keep", "short_rsi_thrust": "keep", "vow": "keep", "s2": "keep"}
#: Does the strategy record `key` as held, beyond its book? (None: it keeps no such record.)
RECORDS: dict[str, Callable[[Any, str], bool]] = {
    "smag7": lambda s, key: key.split(".")[0] in s.lowest,
    "short_rsi_thrust": lambda s, key: key.split(".")[0] in s.held,
    "vow": lambda s, key: key in s.entries,
    "s2": lambda s, key: s.state in (LONG_SPREAD, SHORT_SPREAD),
}


def _universe(name: str, daily: Mapping[Instrument, pd.DataFrame]) -> dict[Instrument,
                                                                         pd.DataFrame]:
    """The bars `name` reads: its subscriptions (and its futures roots' whole chains)."""
    if name in INTRADAY:
        minutes = INTRADAY[name]
        n = 78 * 5 if minutes == 5 else 390 * 2
        vol = np.where(np.arange(n) % 17 == 0, 60_000.0, 10_000.0)
        closes = random_walk(n, 100.0, 0.002, seed=3)
        return {Stock("SPY"): intraday_bars(closes, minutes=minutes, volume=vol)}
    cls = load_strategy(name)
    probe = cls(name, cls.params_type(), BacktestContext(instruments={i.key: i for i in daily}))
    keys, roots = set(probe.specs()), set(probe.futures_symbols)
    return {i: df for i, df in daily.items()
            if i.key in keys or (i.sec_type == "FUT" and i.symbol in roots)}


@dataclass(frozen=True)
class Scenario:
    bars: dict[Instrument, pd.DataFrame]  #: its bars up to AFTER bars past its first order
    first: pd.Timestamp  #: when it placed its first order
    base: backtest.BacktestResult  #: the run over all its bars, with no order scripted
    placed: list[tuple[pd.Timestamp, OrderHandle]]  #: that run's orders
    all_bars: dict[Instrument, pd.DataFrame]


_SCENARIOS: dict[str, Scenario] = {}


@pytest.fixture
def scenario(daily_universe):
    def get(name: str) -> Scenario:
        if name not in _SCENARIOS:
            bars = _universe(name, daily_universe)
            base, v = _run(name, bars)
            first = v.placed[0][0]
            times = base.equity.index
            end = times[min(int(np.searchsorted(times, first)) + AFTER, len(times) - 1)]
            cut = {i: df[df.index <= end] for i, df in bars.items()}
            _SCENARIOS[name] = Scenario(cut, first, base, v.placed, bars)
        return _SCENARIOS[name]
    return get


def _run(name: str, bars: Mapping[Instrument, pd.DataFrame], venue: Venue | None = None,
         **kw: Any) -> tuple[backtest.BacktestResult, Venue]:
    venue = venue or Venue()
    cls = venue.strategy(load_strategy(name))
    return backtest.run(cls, PARAMS.get(name), bars, **kw), venue


def _bar_of(r: backtest.BacktestResult, t: pd.Timestamp) -> int:
    """Index of the bar during or at the end of which `t` falls."""
    return int(np.searchsorted(r.equity.index, t, side="left")) - 1


def _held(r: backtest.BacktestResult, key: str, after_bar: int) -> float:
    """Position in `key` once the orders decided at bar `after_bar` have filled."""
    idx = r.equity.index
    until = idx[min(after_bar + 1, len(idx) - 1)]
    f = r.fills
    return float(f.loc[(f["instrument"] == key) & (f["time"] <= until), "quantity"].sum())


def _largest_positions(r: backtest.BacktestResult) -> dict[str, float]:
    """Instrument key -> the largest absolute position held during the run."""
    held = r.fills.groupby("instrument")["quantity"].cumsum().abs()
    return {str(k): float(v) for k, v in held.groupby(r.fills["instrument"]).max().items()}


def _closes(quantity: float, held: float) -> bool:
    """Whether an order of `quantity` closes (or flips) a position of `held`."""
    return quantity * held < 0 and abs(quantity) >= abs(held)


def _next_decision(name: str, r: backtest.BacktestResult, bar: int) -> int:
    """The bar of the strategy's next decision after `bar`."""
    idx = r.equity.index
    if name == "cnr":  # weekly, on the week's first session
        week = idx[bar].isocalendar()[:2]
        return next(i for i in range(bar + 1, len(idx)) if idx[i].isocalendar()[:2] != week)
    if name == "sie":  # monthly, on the month's last session
        month = idx[bar].month
        nxt = [i for i in range(bar + 1, len(idx)) if idx[i].month != month]
        return next(i for i in nxt if i + 1 == len(idx) or idx[i + 1].month != idx[i].month)
    return bar + 1


def _orders_after(v: Venue, h: OrderHandle) -> list[tuple[pd.Timestamp, OrderHandle]]:
    i = [o for _, o in v.placed].index(h)
    key = h.request.instrument.key
    return [(t, o) for t, o in v.placed[i + 1 :] if o.request.instrument.key == key]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_a_refused_order_is_not_held_and_the_rule_decides_again(name, scenario):
    sc = scenario(name)
    bars, t0, base = sc.bars, sc.first, sc.base
    r, v = _run(name, bars, Venue(refuse=1))
    (h,) = v.refused
    key = h.request.instrument.key
    assert h.status == OrderStatus.REJECTED
    assert h.local_id not in set(r.fills["local_id"])
    # The news reached it at the end of that bar: it does not count the order as held.
    end = base.equity.index[_bar_of(base, t0)]
    cut, _ = _run(name, {i: df[df.index <= end] for i, df in bars.items()}, Venue(refuse=1))
    assert cut.context.position(h.request.instrument) == 0
    if name in RECORDS:
        assert not RECORDS[name](cut.strategy, key), "records a refused entry as held"
    # Never twice the position it would have held without the refusal.
    most, got = _largest_positions(base), _largest_positions(r)
    assert all(got[k] <= 1.05 * most.get(k, 0.0) + 1 for k in got), (got, most)
    if RETRY.get(name, "next decision") == "next decision":
        nxt = _next_decision(name, base, _bar_of(base, t0))
        assert np.sign(_held(r, key, nxt)) == np.sign(_held(base, key, nxt)) != 0 or (
            _held(base, key, nxt) == 0 == _held(r, key, nxt))
    else:
        # Its next order there is a new entry from flat, not an exit of what it never held.
        later = _orders_after(v, h)
        if later:
            t, o = later[0]
            assert _held(r, key, _bar_of(r, t) - 1) == 0
            assert _held(r, key, _bar_of(r, t)) == o.request.quantity


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_a_partly_filled_order_is_topped_up_or_its_exit_closes_what_filled(name, scenario):
    sc = scenario(name)
    bars, t0, base = sc.bars, sc.first, sc.base
    r, v = _run(name, bars, Venue(fill_part=1))
    (h,) = v.partly_filled
    key = h.request.instrument.key
    assert h.status == OrderStatus.CANCELLED
    assert h.filled == math.trunc(h.request.quantity / 2) != 0
    later = _orders_after(v, h)
    if AFTER_PARTIAL.get(name, "top up") == "top up":
        nxt = _next_decision(name, base, _bar_of(base, t0))
        want, got = _held(base, key, nxt), _held(r, key, nxt)
        assert got == pytest.approx(want, rel=0.05, abs=1), "not back at its target"
    else:
        end = base.equity.index[_bar_of(base, t0) + 1]
        cut, _ = _run(name, {i: df[df.index <= end] for i, df in bars.items()},
                      Venue(fill_part=1))
        assert cut.context.position(h.request.instrument) == h.filled
        assert RECORDS[name](cut.strategy, key), "forgot the partly filled entry"
        if later:  # no top-up: the next order is the exit, of exactly what filled
            t, exit_ = later[0]
            assert exit_.request.quantity == -h.filled, "the exit does not close what filled"
            assert _held(r, key, _bar_of(r, t)) == 0
        else:
            assert r.context.position(h.request.instrument) == h.filled


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_a_restart_while_holding_a_partly_filled_position_changes_nothing(name, scenario):
    sc = scenario(name)
    bars, t0 = sc.bars, sc.first
    whole, v = _run(name, bars, Venue(fill_part=1))
    after = whole.equity.index[_bar_of(whole, t0) + 2]  # the partial fill is held by then
    key = v.partly_filled[0].request.instrument.key
    assert whole.fills.loc[whole.fills["time"] < after].groupby("instrument")[
        "quantity"].sum().get(key, 0) != 0
    restarted, v2 = _run(name, bars, Venue(fill_part=1), restart_at=[after])
    assert [t for t, _ in v2.placed] == [t for t, _ in v.placed], "re-entered after the restart"
    pd.testing.assert_frame_equal(restarted.fills.drop(columns=["local_id"]),
                                  whole.fills.drop(columns=["local_id"]))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_a_missing_bar_is_skipped_not_traded_on_and_a_nan_bar_is_a_missing_one(name, scenario):
    sc = scenario(name)
    bars, t0, base = sc.bars, sc.first, sc.base
    key = sc.placed[0][1].request.instrument.key
    i0 = _bar_of(base, t0)
    gap = base.equity.index[[i0, i0 + 1]]  # the decision's bar and the next, while holding
    missing = {i: (df.drop(gap, errors="ignore") if i.key == key else df)
               for i, df in bars.items()}
    nan = {i: df.copy() for i, df in bars.items()}
    for i, df in nan.items():
        if i.key == key:
            df.loc[df.index.isin(gap), :] = float("nan")
    after = base.equity.index[i0 + 3]
    r_missing, v_missing = _run(name, missing)
    r_nan, _ = _run(name, nan, restart_at=[after])  # the restart warms up over the gap
    assert np.isfinite(r_missing.equity).all()
    for _, h in v_missing.placed:
        q = h.request.quantity
        assert math.isfinite(q) and q == round(q), f"ordered {q} of {h.request.instrument.key}"
    pd.testing.assert_frame_equal(r_nan.fills.drop(columns=["local_id"]),
                                  r_missing.fills.drop(columns=["local_id"]))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_a_refused_exit_is_tried_again_at_the_next_decision(name, scenario):
    sc = scenario(name)
    first = sc.placed[0][1].request
    key = first.instrument.key
    t_exit = next(t for t, h in sc.placed[1:] if h.request.instrument.key == key
                  and _closes(h.request.quantity, _held(sc.base, key, _bar_of(sc.base, t) - 1)))
    i_exit = _bar_of(sc.base, t_exit)
    end = sc.base.equity.index[min(i_exit + 30, len(sc.base.equity) - 1)]
    bars = {i: df[df.index <= end] for i, df in sc.all_bars.items()}
    r, v = _run(name, bars, Venue(refuse=1, after=t_exit, instrument=key))
    (h,) = v.refused
    assert h.request.instrument.key == key and h.request.quantity * first.quantity < 0
    assert _held(r, key, i_exit) == _held(sc.base, key, i_exit - 1) != 0  # still held
    nxt = _next_decision(name, sc.base, i_exit)
    want, got = _held(sc.base, key, nxt), _held(r, key, nxt)
    assert np.sign(got) == np.sign(want), f"holds {got} of {key} after its next decision"
    assert got == pytest.approx(want, rel=0.05, abs=1)


def _started(cls: type, params: Any, bars: Mapping[str, pd.DataFrame]) -> Any:
    """A strategy warmed up with `bars` (key -> frame), at the close of their last day."""
    ctx = BacktestContext(100_000.0)
    s = cls(cls.__name__.lower(), params, ctx)
    for key, df in bars.items():
        s.warm_up(key, df)
        ctx.set_price(key, float(df["close"].iloc[-1]))
    ctx.set_time(max(df.index[-1] for df in bars.values()) + pd.Timedelta(hours=20))
    s.start()
    return s


def test_s2_regresses_only_the_days_both_legs_have():
    from strategies.s2 import S2, S2Params, s2_signal

    rng = np.random.default_rng(4)
    idx = trading_days("2024-01-02", 60)
    b = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    a = 50 * (b / 100) ** 1.5 * np.exp(rng.normal(0, 0.002, 60))
    ko, pep = daily_bars(a, index=idx), daily_bars(b, index=idx)
    s = _started(S2, S2Params(window=30), {"KO.STK": ko.drop(idx[45]), "PEP.STK": pep})
    s.daily()
    keep = np.arange(60) != 45
    beta, z = s2_signal(a[keep], b[keep], 30)
    assert (s.beta, s.last_z) == pytest.approx((beta, z))


def test_svix_ratio_pairs_the_same_days_when_vix_misses_one():
    from strategies.svix import FLAT, Svix, SvixParams

    idx = trading_days("2024-01-02", 10)
    vix = daily_bars(np.full(10, 19.0), index=idx).iloc[:-1]  # no VIX bar on the last day
    vix3m = daily_bars(np.r_[np.full(9, 20.0), 30.0], index=idx)
    s = _started(Svix, SvixParams(), {"VIX.IND": vix, "VIX3M.IND": vix3m,
                                      "SVXY.STK": daily_bars(np.full(10, 50.0), index=idx)})
    s.daily()
    # 19/20 = 0.95 on the days both have: between enter (0.92) and exit (1.0), so it stays
    # flat; pairing the last three closes of each would read (0.95 + 0.95 + 0.63) / 3 < 0.92.
    assert s.regime == FLAT
    assert s.open_orders() == []
