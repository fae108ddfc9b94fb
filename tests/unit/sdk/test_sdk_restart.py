"""What a strategy is given back when its process restarts: its saved state, the book it holds
at the broker (reconciled with the saved one), and the scheduled callbacks it missed."""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
import pytest

from ats.sdk import Params, Stock, Strategy
from ats.sdk.backtest import BacktestContext
from ats.sdk.strategy import FLATTEN, MAX_CATCH_UP

SPY, QQQ = Stock("SPY"), Stock("QQQ")
T0 = pd.Timestamp("2026-11-18T15:00:00Z")  # a Wednesday session (XNYS closes 21:00 UTC)


class Holder(Strategy[Params]):
    params_type = Params

    def on_init(self) -> None:
        self.reconciled: list[tuple[dict[str, float], dict[str, float]]] = []
        self.fired: list[pd.Timestamp] = []

    def on_start(self) -> None:
        self.schedule.daily(lambda: self.fired.append(self.now), at=pd.Timestamp("10:30").time())

    def on_reconcile(self, saved: Any, book: Any) -> None:
        self.reconciled.append((dict(saved), dict(book)))
        super().on_reconcile(saved, book)


class Flattener(Holder):
    unknown_positions = FLATTEN


def context(now: pd.Timestamp, positions: dict[str, float]) -> BacktestContext:
    ctx = BacktestContext(now=now, instruments={SPY.key: SPY, QQQ.key: QQQ})
    for key, qty in positions.items():
        ctx.set_position(Stock(key.split(".")[0]), qty)
        ctx.set_price(key, 100.0)
    return ctx


def restarted(cls: type[Holder], state: dict[str, Any] | None, now: pd.Timestamp,
              book: dict[str, float]) -> tuple[Holder, dict[str, tuple[float, float]]]:
    s = cls("h", Params(), context(now, book))
    if state is not None:
        s.load_state(json.loads(json.dumps(state)))
    s.start()
    return s, s.reconcile(s.ctx.positions())


def saved_with(book: dict[str, float], at: pd.Timestamp = T0) -> dict[str, Any]:
    s = Holder("h", Params(), context(at, book))
    s.start()
    return s.save_state()


def test_the_saved_state_holds_the_book_it_was_saved_with() -> None:
    assert saved_with({SPY.key: 10.0})["book"] == {SPY.key: 10.0}


def test_a_book_equal_to_the_saved_one_needs_no_reconciliation() -> None:
    s, diffs = restarted(Holder, saved_with({SPY.key: 10.0}), T0, {SPY.key: 10.0})
    assert diffs == {} and s.reconciled == []


def test_a_position_filled_after_the_last_save_is_adopted_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        s, diffs = restarted(Holder, saved_with({}), T0, {SPY.key: 10.0})
    assert diffs == {SPY.key: (0.0, 10.0)}
    assert s.reconciled == [({}, {SPY.key: 10.0})]
    assert s.open_orders() == [] and s.position(SPY) == 10.0
    assert "reconcile SPY.STK: saved state holds +0, the broker's book +10" in caplog.text


def test_without_saved_state_the_book_is_reconciled_against_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _, diffs = restarted(Holder, None, T0, {QQQ.key: -5.0})
    assert diffs == {QQQ.key: (0.0, -5.0)}
    assert "no saved state" in caplog.text


def test_the_flatten_policy_closes_only_positions_the_saved_state_does_not_hold() -> None:
    s, _ = restarted(Flattener, saved_with({SPY.key: 10.0}), T0,
                     {SPY.key: 10.0, QQQ.key: -5.0})
    orders = [(h.request.instrument.key, h.request.quantity) for h in s.open_orders()]
    assert orders == [(QQQ.key, 5.0)]


def test_a_callback_due_during_a_short_restart_runs_at_the_next_advance() -> None:
    before = pd.Timestamp("2026-11-18T15:29:00Z")  # 10:29 New York
    state = saved_with({}, at=before)
    after = before + pd.Timedelta(minutes=3)  # 10:30 fell due while it was down
    s, _ = restarted(Holder, state, after, {})
    s.advance_clock(after)
    assert s.fired == [after]


def test_a_callback_due_longer_ago_than_the_catch_up_is_skipped_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    before = pd.Timestamp("2026-11-18T15:29:00Z")
    state = saved_with({}, at=before)
    after = before + MAX_CATCH_UP + pd.Timedelta(minutes=2)
    with caplog.at_level(logging.WARNING):
        s, _ = restarted(Holder, state, after, {})
    s.advance_clock(after)
    assert s.fired == []
    assert "are skipped: daily" in caplog.text


def test_a_fresh_start_runs_nothing_that_fell_due_before_it() -> None:
    s, _ = restarted(Holder, None, pd.Timestamp("2026-11-18T15:32:00Z"), {})
    s.advance_clock(pd.Timestamp("2026-11-18T15:32:00Z"))
    assert s.fired == []
