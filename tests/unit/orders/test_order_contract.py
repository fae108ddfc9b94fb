"""The order contract (ats.orders.contract): every message survives encode -> the bus's msgpack
codec -> decode unchanged, whatever its values; bad input and another schema version are
refused with one line naming the field."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orderkit import over_the_bus

from ats.orders import ref
from ats.orders.contract import (
    SCHEMA,
    TRADING_STATES,
    ApprovalRequest,
    BookedExecution,
    BookReply,
    Decision,
)
from ats.orders.intent import OrderIntent

names = st.from_regex(ref.STRATEGY_RE, fullmatch=True).filter(lambda s: len(s) <= 30)
ids = st.integers(0, 2**62)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
prices = st.none() | st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
words = st.text(min_size=1, max_size=12)
sides = st.sampled_from(["BUY", "SELL"])

requests = st.builds(
    ApprovalRequest, strategy=names, con_id=ids, symbol=words, sec_type=words, side=sides,
    quantity=positive, order_type=words, limit_price=prices, stop_price=prices, tif=words,
    multiplier=positive, ref_price=finite, client_id=st.none() | st.integers(0, 2**31))

intents = st.builds(
    OrderIntent, intent_id=ids, strategy=names, con_id=ids, symbol=words, sec_type=words,
    side=sides, quantity=positive, order_type=words, limit_price=prices, stop_price=prices,
    tif=words, multiplier=positive, ref_price=finite, created=st.floats(0, 4e9))

decisions = st.one_of(
    st.builds(lambda i: Decision(True, "ok", "approved", None).approve(i), intents),
    st.builds(Decision, approved=st.just(False), code=words, reason=st.text(max_size=80),
              limit=st.none() | words))

books = st.builds(
    BookReply,
    positions=st.lists(st.tuples(ids, finite), max_size=5).map(tuple),
    cash=finite,
    executions=st.lists(st.builds(BookedExecution, words, ids, finite, positive, positive,
                                  st.none() | finite), max_size=5).map(tuple),
    in_flight=st.lists(intents, max_size=3).map(tuple),
    trading_state=st.sampled_from(sorted(TRADING_STATES)))


@settings(deadline=None)  # no per-example time limit: a loaded machine must not fail it
@given(requests)
def test_an_approval_request_round_trips_over_the_bus(req: ApprovalRequest) -> None:
    assert ApprovalRequest.decode(over_the_bus(req.encode())) == req


@settings(deadline=None)
@given(decisions)
def test_a_decision_round_trips_over_the_bus(decision: Decision) -> None:
    assert Decision.decode(over_the_bus(decision.encode())) == decision


@settings(deadline=None)
@given(books)
def test_a_book_reply_round_trips_over_the_bus(book: BookReply) -> None:
    assert BookReply.decode(over_the_bus(book.encode())) == book


@settings(deadline=None)
@given(requests, ids, st.floats(0, 4e9))
def test_an_approved_request_becomes_the_intent_it_names(
        req: ApprovalRequest, intent_id: int, created: float) -> None:
    intent = req.intent(intent_id, created)
    decision = Decision(True, "ok", "approved", None).approve(intent)
    assert decision.order_ref == ref.make(req.strategy, intent_id) == intent.order_ref
    assert decision.intent_id == intent_id
    assert (intent.strategy, intent.con_id, intent.quantity, intent.limit_price) == \
        (req.strategy, req.con_id, req.quantity, req.limit_price)


def test_every_message_carries_the_schema_version() -> None:
    req = ApprovalRequest("alpha", 1, "AAPL", "STK", "BUY", 1.0, "MKT")
    book = BookReply((), 0.0, (), (), "ACTIVE")
    for body in (req.encode(), Decision(False, "halted", "no", None).encode(), book.encode()):
        assert body["v"] == SCHEMA


# -- what a host sent before the contract ----------------------------------------------------

PLAIN = {"strategy": "alpha", "con_id": 265598, "symbol": "AAPL", "sec_type": "STK",
         "side": "BUY", "quantity": 10, "order_type": "LMT", "limit_price": 100.0,
         "stop_price": None, "tif": "DAY", "multiplier": 1.0, "client_id": 11,
         "ref_price": 100.0}


def test_a_plain_dict_without_a_version_is_read_as_version_1() -> None:
    req = ApprovalRequest.decode(PLAIN)
    assert req == ApprovalRequest("alpha", 265598, "AAPL", "STK", "BUY", 10.0, "LMT",
                                  limit_price=100.0, client_id=11, ref_price=100.0)
    assert {k: v for k, v in req.encode().items() if k != "v"} == PLAIN


def test_optional_fields_take_their_defaults_and_ibs_unset_price_means_none() -> None:
    req = ApprovalRequest.decode({
        **{k: PLAIN[k] for k in ("strategy", "con_id", "symbol", "sec_type", "side",
                                 "quantity", "order_type")},
        "limit_price": 1.7976931348623157e308, "multiplier": None, "ref_price": None})
    assert (req.limit_price, req.stop_price, req.tif, req.multiplier, req.ref_price,
            req.client_id) == (None, None, "DAY", 1.0, 0.0, None)


def test_a_refusal_names_no_intent_on_the_wire() -> None:
    body = Decision(False, "max_order_qty", "max_order_qty: 5 > limit 1", "max_order_qty")
    assert "intent_id" not in body.encode() and "order_ref" not in body.encode()


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    ({"strategy": "Bad Name"}, "strategy must be a strategy name"),
    ({"strategy": None}, "strategy must be a string, got None"),
    ({"con_id": "265598"}, "con_id must be an integer, got '265598'"),
    ({"con_id": 1.5}, "con_id must be an integer, got 1.5"),
    ({"con_id": True}, "con_id must be an integer, got True"),
    ({"side": "buy"}, "side must be BUY or SELL, got 'buy'"),
    ({"quantity": 0}, "quantity must be > 0, got 0"),
    ({"quantity": "many"}, "quantity must be a finite number, got 'many'"),
    ({"quantity": math.nan}, "quantity must be a finite number, got nan"),
    ({"limit_price": "cheap"}, "limit_price must be a finite number, got 'cheap'"),
    ({"multiplier": -1}, "multiplier must be > 0"),
    ({"client_id": "eleven"}, "client_id must be an integer"),
    ({"tif": 5}, "tif must be a string, got 5"),
])
def test_a_bad_approval_request_is_refused_naming_the_field(
        change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        ApprovalRequest.decode({**PLAIN, **change})
    assert str(info.value).startswith("bad approval request: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field", ["strategy", "con_id", "symbol", "sec_type", "side",
                                   "quantity", "order_type"])
def test_an_approval_request_without_a_required_field_names_it(field: str) -> None:
    with pytest.raises(ValueError, match=f"^bad approval request: {field} is missing$"):
        ApprovalRequest.decode({k: v for k, v in PLAIN.items() if k != field})


@pytest.mark.parametrize(("body", "message"), [
    ({"approved": "yes", "code": "ok", "reason": "", "limit": None},
     "bad decision: approved must be true or false, got 'yes'"),
    ({"approved": True, "code": "ok", "reason": "approved", "limit": None, "intent_id": 3},
     "bad decision: approved without order_ref"),
    ({"approved": True, "code": "ok", "reason": "approved", "limit": None},
     "bad decision: approved without intent_id"),
    ({"approved": False, "code": 7, "reason": "", "limit": None},
     "bad decision: code must be a string, got 7"),
    ({"approved": False, "code": "x", "reason": "", "limit": 3},
     "bad decision: limit must be a string or None, got 3"),
])
def test_a_bad_decision_is_refused_naming_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Decision.decode(body)
    assert str(info.value) == message


GOOD_BOOK = BookReply(((265598, 10.0),), -1000.0, (BookedExecution("e.1.01", 265598, 10.0,
                                                                   100.0, 1.0, None),),
                      (), "ACTIVE").encode()


@pytest.mark.parametrize(("change", "message"), [
    ({"positions": [[265598]]}, "positions[0] must be [con_id, position]"),
    ({"positions": [["x", 1.0]]}, "positions[0] must be an integer, got 'x'"),
    ({"positions": {"265598": 1.0}}, "positions must be a list"),
    ({"executions": [["e.1.01", 265598, 10.0, 100.0, 1.0]]}, "executions[0] must be [exec_id"),
    ({"executions": [["e.1.01", 265598, 10.0, 100.0, 1.0, "free"]]},
     "executions[0] must be a finite number, got 'free'"),
    ({"in_flight": [{"intent_id": 1}]}, "in_flight[0] must be an order intent"),
    ({"trading_state": "PAUSED"}, "trading_state must be ACTIVE, REDUCING or HALTED"),
    ({"cash": None}, "cash must be a finite number, got None"),
])
def test_a_bad_book_reply_is_refused_naming_the_field(change: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(ValueError) as info:
        BookReply.decode({**GOOD_BOOK, **change})
    assert str(info.value).startswith("bad book reply: ")
    assert message in str(info.value)


@pytest.mark.parametrize(("decoder", "body"), [
    (ApprovalRequest.decode, PLAIN),
    (Decision.decode, Decision(False, "halted", "no", "trading_state").encode()),
    (BookReply.decode, GOOD_BOOK),
])
@pytest.mark.parametrize("version", [SCHEMA + 1, 0, "1"])
def test_another_schema_version_is_refused_by_name(decoder: Any, body: dict[str, Any],
                                                   version: object) -> None:
    with pytest.raises(ValueError,
                       match=f"schema version {version!r}, this side speaks {SCHEMA}$"):
        decoder({**body, "v": version})


@pytest.mark.parametrize("decoder", [ApprovalRequest.decode, Decision.decode,
                                     BookReply.decode])
def test_a_message_that_is_not_a_mapping_is_refused(decoder: Any) -> None:
    with pytest.raises(ValueError, match="expected a mapping, got list"):
        decoder([1, 2])
