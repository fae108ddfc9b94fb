"""The desk speaks the order contract (ats.orders.contract): it reads an ApprovalRequest, refusing
a bad one as BAD_PARAMS with the contract's one-line reason, and answers a Decision and a
BookReply that the host's decoders read back. A real Broker: ledger store on LMDB, intent log,
group commit; no sockets, no venue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_testkit import approve_params, broker_in, decide

from ats.broker.main import Broker
from ats.broker.tradingstate import TradingState
from ats.errors import Code
from ats.orders import ref
from ats.orders.contract import SCHEMA, TRADING_STATES, BookReply, Decision
from bus.errors import RequestError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    with broker_in(tmp_path / "home", monkeypatch) as b:
        yield b


def approve(broker: Broker, params: dict[str, Any]) -> dict[str, Any]:
    return decide(broker, params)


def test_an_approval_is_a_decision_naming_the_intent_and_the_book_lists_it_in_flight(
        broker: Broker) -> None:
    decision = Decision.decode(approve(broker, approve_params(quantity=7)))
    assert decision.approved and decision.intent_id is not None
    assert decision.order_ref == ref.make("alpha", decision.intent_id)
    book = BookReply.decode(broker.m_book({"strategy": "alpha"}))
    assert [(i.order_ref, i.side, i.quantity) for i in book.in_flight] == \
        [(decision.order_ref, "BUY", 7.0)]
    assert book.trading_state == "ACTIVE"


def test_a_refusal_is_a_decision_naming_the_limit(broker: Broker) -> None:
    broker.m_set_limits({"strategy": "alpha", "limits": {"max_order_qty": 5}})
    decision = Decision.decode(approve(broker, approve_params(quantity=7)))
    assert (decision.approved, decision.limit, decision.order_ref) == \
        (False, "max_order_qty", None)
    assert "7 > limit 5" in decision.reason


@pytest.mark.parametrize(("change", "message"), [
    ({"quantity": 0}, "bad approval request: quantity must be > 0, got 0"),
    ({"side": "HOLD"}, "bad approval request: side must be BUY or SELL, got 'HOLD'"),
    ({"strategy": "Not Valid"}, "bad approval request: strategy must be a strategy name"),
    ({"v": SCHEMA + 1}, f"bad approval request: schema version {SCHEMA + 1}"),
])
def test_a_bad_approval_request_is_refused_as_bad_params_with_the_contracts_reason(
        broker: Broker, change: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError) as info:
        approve(broker, {**approve_params(), **change})
    assert info.value.code == Code.BAD_PARAMS
    assert info.value.message.startswith(message)
    assert broker.intents.unresolved() == []


def test_the_contracts_trading_states_are_the_desks() -> None:
    assert {str(s) for s in TradingState} == TRADING_STATES
