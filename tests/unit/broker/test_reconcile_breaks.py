"""Reconciliation: strategy books plus `unattributed` against the account, per contract
(ats/broker/reconcile.py), and what the broker does with a break (README: "A break is
published and alerted, and that instrument goes to REDUCING until it clears")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_testkit import FakePublisher, FakeVenue, broker_in, fill, intent

from ats.broker.ledger import UNATTRIBUTED
from ats.broker.main import BREAK_CONFIRMATIONS, Broker
from ats.broker.reconcile import Break, reconcile
from ats.broker.tradingstate import TradingState, TradingStates
from ats.orders.contract import Decision

pytestmark = pytest.mark.timeout(60)


def test_equal_positions_have_no_breaks() -> None:
    assert reconcile({1: 10.0, 2: 0.0}, {1: 10.0}) == []


def test_differences_and_missing_contracts_are_breaks() -> None:
    assert reconcile({1: 10.0, 2: 5.0}, {1: 7.0, 3: -2.0}) == [
        Break(1, 10.0, 7.0, 3.0), Break(2, 5.0, 0.0, 5.0), Break(3, 0.0, -2.0, 2.0)]


def test_tolerance_absorbs_float_noise() -> None:
    assert reconcile({1: 0.1 + 0.2}, {1: 0.3}) == []


# -- the broker's reconciliation: a break puts its instrument in REDUCING until it clears ------

AAPL, MSFT = 265598, 272093
NOW = 1_000_000.0  #: the risk check's clock (order-rate windows), fixed


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    with broker_in(tmp_path / "home", monkeypatch) as b:
        yield b


def published(broker: Broker, type: str) -> list[dict[str, Any]]:
    publisher = broker.publisher
    assert isinstance(publisher, FakePublisher)
    return publisher.bodies(type)


def check(broker: Broker, times: int = BREAK_CONFIRMATIONS) -> None:
    for _ in range(times):
        broker.check_reconciliation()


def risk(broker: Broker, side: str, quantity: float, con_id: int = AAPL) -> Decision:
    return broker.risk.check(intent(side, quantity, con_id=con_id), broker.ledger,
                             broker.states, NOW)


def venue(broker: Broker) -> FakeVenue:
    assert isinstance(broker.ib, FakeVenue)
    return broker.ib


def test_books_plus_unattributed_equal_to_the_account_is_no_break(broker: Broker) -> None:
    broker.ledger.apply_execution(fill("BOT", 10, 100.0, ref="ats:alpha:1"))
    broker.ledger.apply_execution(fill("BOT", 5, 100.0, ref="", client_id=999))  # manual
    assert broker.ledger.position(UNATTRIBUTED, AAPL) == 5
    venue(broker).account = {AAPL: 15.0}
    check(broker)
    assert broker.breaks == {}
    assert broker.states.instrument_state(AAPL) is TradingState.ACTIVE
    assert published(broker, "break") == []


def test_a_single_mismatch_is_not_yet_a_break(broker: Broker) -> None:
    # a fill and the position update that follows it arrive as separate messages
    broker.ledger.apply_execution(fill("BOT", 10, 100.0))
    venue(broker).account = {AAPL: 7.0}
    check(broker, times=BREAK_CONFIRMATIONS - 1)
    assert broker.states.instrument_state(AAPL) is TradingState.ACTIVE
    assert published(broker, "break") == []


def test_a_break_puts_that_instrument_in_reducing_and_is_published_and_alerted(
        broker: Broker) -> None:
    broker.ledger.apply_execution(fill("BOT", 10, 100.0))
    broker.ledger.apply_execution(fill("BOT", 3, 50.0, con_id=MSFT, symbol="MSFT"))
    venue(broker).account = {AAPL: 7.0, MSFT: 3.0}
    check(broker)
    assert broker.states.instrument_state(AAPL) is TradingState.REDUCING
    assert broker.states.instrument_state(MSFT) is TradingState.ACTIVE  # only that one
    assert published(broker, "break") == [
        {"con_id": AAPL, "ledger": 10.0, "account": 7.0, "diff": 3.0}]
    [alert] = published(broker, "alert")
    assert alert["level"] == "ERROR"
    assert alert["message"] == (f"reconciliation break on conId {AAPL}: ledger 10 vs "
                                "account 7; REDUCING")
    assert broker.m_reconcile({})["breaks"] == [
        {"con_id": AAPL, "ledger": 10.0, "account": 7.0, "diff": 3.0}]
    check(broker)  # still broken: published once, not at every check
    assert len(published(broker, "break")) == 1


def test_in_reducing_new_exposure_is_refused_and_reducing_orders_pass(broker: Broker) -> None:
    broker.ledger.apply_execution(fill("BOT", 10, 100.0))
    venue(broker).account = {AAPL: 7.0}
    check(broker)
    more = risk(broker, "BUY", 5)
    assert (more.approved, more.code, more.limit) == (False, "reducing", "trading_state")
    assert more.reason == (
        f"trading REDUCING for con_id {AAPL} (reconciliation break: ledger 10 vs account 7):"
        f" order 5 on position 10 of alpha does not reduce it (con_id {AAPL})")
    through_zero = risk(broker, "SELL", 15)  # would open a short: new exposure
    assert (through_zero.approved, through_zero.code) == (False, "reducing")
    reduce = risk(broker, "SELL", 4)
    assert (reduce.approved, reduce.code) == (True, "ok")
    close = risk(broker, "SELL", 10)
    assert close.approved is True
    other = risk(broker, "BUY", 5, con_id=MSFT)  # other instruments trade as before
    assert other.approved is True


def test_when_the_break_clears_the_instrument_returns_to_active(broker: Broker) -> None:
    broker.ledger.apply_execution(fill("BOT", 10, 100.0))
    venue(broker).account = {AAPL: 7.0}
    check(broker)
    assert broker.states.instrument_state(AAPL) is TradingState.REDUCING
    venue(broker).account = {AAPL: 10.0}  # the missing 3 reach the account
    broker.check_reconciliation()
    assert broker.states.instrument_state(AAPL) is TradingState.ACTIVE
    assert broker.breaks == {}
    assert published(broker, "resolved") == [{"con_id": AAPL}]
    assert risk(broker, "BUY", 5).approved is True
    assert broker.states.path is not None
    with_file = TradingStates.load(broker.states.path)  # what a restart reads
    assert with_file.instrument_state(AAPL) is TradingState.ACTIVE


def test_a_break_that_cleared_while_the_broker_was_down_clears_at_its_next_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    e = fill("BOT", 10, 100.0)
    with broker_in(home, monkeypatch) as first:
        first.store.record_execution(e)  # journalled, then applied, as record_fill does
        first.ledger.apply_execution(e)
        venue(first).account = {AAPL: 7.0}
        check(first)
        assert first.states.instrument_state(AAPL) is TradingState.REDUCING
    with broker_in(home, monkeypatch) as second:
        assert second.ledger.position("alpha", AAPL) == 10  # replayed from the journal
        assert second.states.instrument_state(AAPL) is TradingState.REDUCING  # persisted
        venue(second).account = {AAPL: 10.0}  # the missing 3 arrived while it was down
        second.check_reconciliation()
        assert second.states.instrument_state(AAPL) is TradingState.ACTIVE
        assert published(second, "resolved") == [{"con_id": AAPL}]
        assert risk(second, "BUY", 5).approved is True


def test_a_break_still_there_after_a_restart_keeps_the_instrument_reducing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    e = fill("BOT", 10, 100.0)
    with broker_in(home, monkeypatch) as first:
        first.store.record_execution(e)
        first.ledger.apply_execution(e)
        venue(first).account = {AAPL: 7.0}
        check(first)
    with broker_in(home, monkeypatch) as second:
        venue(second).account = {AAPL: 7.0}
        check(second)
        assert second.states.instrument_state(AAPL) is TradingState.REDUCING
        assert published(second, "resolved") == []
        assert risk(second, "BUY", 5).approved is False
