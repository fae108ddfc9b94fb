"""The fill and order-update events (ats.orders.events): each survives encode -> the bus's msgpack
codec -> decode unchanged, whatever its values; its body is the ledger's row (or the host's
update) plus the schema version; bad input and another schema version are refused in one line
naming the field."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orderkit import over_the_bus

from ats.broker.ledger import Ledger
from ats.orders.contract import SCHEMA
from ats.orders.events import (
    FILL_TYPE,
    IN,
    OUT,
    TRADE,
    TRANSFER,
    TRANSFER_TYPE,
    FillEvent,
    OrderUpdate,
    TransferLeg,
)
from ats.orders.fills import BOT, SLD, CommissionReport, Execution

words = st.text(max_size=12)
ids = st.integers(-1, 2**62)
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
non_negative = st.floats(min_value=0, max_value=1e9, allow_nan=False)
times = st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat())


def fill_events(sides: st.SearchStrategy[str],
                legs: st.SearchStrategy[TransferLeg | None]) -> st.SearchStrategy[FillEvent]:
    return st.builds(
        FillEvent, exec_id=words, strategy=words, symbol=words, con_id=ids, side=sides,
        shares=non_negative, price=finite, commission=finite, commission_pending=st.booleans(),
        realized_pnl=finite, order_ref=words, client_id=ids, perm_id=ids, time=times,
        sec_type=words, multiplier=non_negative, transfer=legs)


transfer_legs = st.builds(TransferLeg, transfer_id=words, position_change=finite, source=words,
                          dest=words, by=words, reason=words, forced=st.booleans())
trades = fill_events(st.sampled_from([BOT, SLD]), st.none())
legs = fill_events(st.sampled_from([IN, OUT]), transfer_legs)
updates = st.builds(OrderUpdate, local_id=words, status=words, filled=finite,
                    avg_price=finite, reason=st.none() | words, instrument=words,
                    quantity=finite, created=st.none() | times)


@settings(deadline=None)  # no per-example time limit: a loaded machine must not fail it
@given(trades | legs)
def test_a_fill_event_round_trips_over_the_bus(event: FillEvent) -> None:
    assert FillEvent.decode(over_the_bus(event.encode())) == event


@settings(deadline=None)
@given(updates)
def test_an_order_update_round_trips_over_the_bus(update: OrderUpdate) -> None:
    assert OrderUpdate.decode(over_the_bus(update.encode())) == update


# -- the ledger's rows are the events' bodies --------------------------------------------------

T = "2026-01-05T14:30:01+00:00"
TRADE_ROW = {"exec_id": "0000e0d5.00000001.01.01", "strategy": "alpha", "symbol": "AAPL",
             "con_id": 265598, "side": "SLD", "shares": 5.0, "price": 101.5,
             "commission": 1.0, "commission_pending": False, "realized_pnl": 0.0,
             "order_ref": "ats:alpha:3", "client_id": 0, "perm_id": 1000, "time": T,
             "sec_type": "STK", "multiplier": 1.0, "kind": "trade"}
LEG_ROW = {**TRADE_ROW, "exec_id": "transfer:t1.in", "side": "IN", "commission": 0.0,
           "order_ref": "", "client_id": -1, "perm_id": 0, "kind": "transfer",
           "transfer_id": "t1", "position_change": 5.0, "from": "unattributed", "to": "alpha",
           "by": "cli:tester", "reason": "manual hedge", "forced": False}


def test_a_ledger_row_without_a_version_reads_as_version_1_and_keeps_its_keys() -> None:
    for row in (TRADE_ROW, LEG_ROW):
        event = FillEvent.decode(row)
        assert event.row() == row
        assert event.encode() == {"v": SCHEMA, **row}


def test_kind_and_envelope_type_follow_whether_it_is_a_transfer_leg() -> None:
    trade, leg = FillEvent.decode(TRADE_ROW), FillEvent.decode(LEG_ROW)
    assert (trade.kind, trade.bus_type, trade.transfer) == (TRADE, FILL_TYPE, None)
    assert (leg.kind, leg.bus_type) == (TRANSFER, TRANSFER_TYPE)
    assert leg.transfer == TransferLeg("t1", 5.0, "unattributed", "alpha", "cli:tester",
                                       "manual hedge", False)
    assert (trade.signed_shares, leg.signed_shares) == (-5.0, 5.0)


def test_the_ledgers_fill_and_transfer_rows_are_its_events_bodies() -> None:
    ledger = Ledger()
    e = Execution(exec_id="0000e0d5.00000001.01.01", perm_id=1000, order_id=1, client_id=0,
                  order_ref="ats:alpha:3", account="DU1", con_id=265598, symbol="AAPL",
                  sec_type="STK", currency="USD", multiplier=1.0, side=SLD, shares=5.0,
                  price=101.5, time=datetime(2026, 1, 5, 14, 30, 1, tzinfo=UTC))
    ledger.apply_execution(e)
    [pending] = ledger.fill_events()
    assert pending.commission_pending and pending.commission == 0.0
    ledger.apply_commission(CommissionReport(e.exec_id, 1.0, "USD", None))
    [event] = ledger.fill_events([e.exec_id])
    assert event == FillEvent.decode(TRADE_ROW)
    assert ledger.fill_rows() == [event.row()]


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "message"), [
    ({**TRADE_ROW, "kind": "dividend"}, "kind must be trade or transfer, got 'dividend'"),
    ({**TRADE_ROW, "side": "IN"}, "side must be BOT or SLD, got 'IN'"),
    ({**LEG_ROW, "side": "BOT"}, "side must be IN or OUT, got 'BOT'"),
    ({**TRADE_ROW, "shares": -5}, "shares must be >= 0, got -5.0"),
    ({**TRADE_ROW, "price": math.inf}, "price must be a finite number, got inf"),
    ({**TRADE_ROW, "con_id": "265598"}, "con_id must be an integer, got '265598'"),
    ({**TRADE_ROW, "commission_pending": 0}, "commission_pending must be true or false, got 0"),
    ({**TRADE_ROW, "order_ref": None}, "order_ref must be a string, got None"),
    ({**TRADE_ROW, "time": "yesterday"}, "time must be an ISO 8601 time, got 'yesterday'"),
    ({k: v for k, v in TRADE_ROW.items() if k != "exec_id"}, "exec_id is missing"),
    ({k: v for k, v in LEG_ROW.items() if k != "from"}, "from is missing"),
    ({**LEG_ROW, "forced": "no"}, "forced must be true or false, got 'no'"),
])
def test_a_bad_fill_event_is_refused_in_one_line_naming_the_field(
        body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        FillEvent.decode(body)
    assert str(info.value) == f"bad fill event: {message}"


UPDATE = OrderUpdate("ats:alpha:3", "Filled", -5.0, 101.5, None, "AAPL.STK", -5.0, T).encode()


@pytest.mark.parametrize(("change", "message"), [
    ({"status": None}, "status must be a string, got None"),
    ({"filled": "all"}, "filled must be a finite number, got 'all'"),
    ({"reason": 3}, "reason must be a string or None, got 3"),
    ({"created": "at noon"}, "created must be an ISO 8601 time, got 'at noon'"),
])
def test_a_bad_order_update_is_refused_in_one_line_naming_the_field(
        change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        OrderUpdate.decode({**UPDATE, **change})
    assert str(info.value) == f"bad order update: {message}"


@pytest.mark.parametrize(("decoder", "body"), [(FillEvent.decode, TRADE_ROW),
                                               (FillEvent.decode, LEG_ROW),
                                               (OrderUpdate.decode, UPDATE)])
@pytest.mark.parametrize("version", [SCHEMA + 1, 0, "1"])
def test_another_schema_version_is_refused_by_name(decoder: Any, body: dict[str, Any],
                                                   version: object) -> None:
    with pytest.raises(ValueError,
                       match=f"schema version {version!r}, this side speaks {SCHEMA}$"):
        decoder({**body, "v": version})


@pytest.mark.parametrize("decoder", [FillEvent.decode, OrderUpdate.decode])
def test_an_event_that_is_not_a_mapping_is_refused(decoder: Any) -> None:
    with pytest.raises(ValueError, match="expected a mapping, got list"):
        decoder([1, 2])
