"""The host reads the desk's fill events and writes its order updates through the order contract
(ats.orders.events): a foreign fill the desk's ledger booked reaches the strategy once and the
book is taken again; a transfer leg retakes the book; a fill message it cannot read is logged in
one line and skipped, and the next one is still handled; each order change goes out as an
OrderUpdate.

A real Host on a temporary ATS_HOME and a real Ledger; the host's task spawner and its bus
publisher are recorders."""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from hostkit import Bus, Recorder, temp_host

from ats.broker.ledger import UNATTRIBUTED, Ledger
from ats.broker.transfers import Transfer
from ats.host.main import Host
from ats.orders.contract import SCHEMA
from ats.orders.events import FILL_TYPE, ORDER_TYPE, TRANSFER_TYPE, OrderUpdate
from ats.orders.fills import CommissionReport, Execution
from ats.sdk import Params
from ats.sdk.instrument import Stock
from ats.sdk.orders import Fill, OrderHandle, OrderRequest, OrderStatus
from bus import topics
from bus.codec import Envelope, decode, encode

NAME = "listener"
CLIENT_ID = 17
SPY = Stock("SPY")
SPY_CON_ID = 756733
EXEC_ID = "0000e0d5.00000001.01.01"
AT = datetime(2026, 1, 5, 14, 30, 1, tzinfo=UTC)


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    with temp_host(NAME) as h:
        h.client_id = CLIENT_ID
        h.contracts.key_of[SPY_CON_ID] = SPY.key
        h.strategy = Recorder(NAME, Params(), h.ctx)
        spawned: list[str] = []

        def spawn(coro: Coroutine[Any, Any, Any], name: str) -> None:
            coro.close()
            spawned.append(name)

        monkeypatch.setattr(h, "spawn", spawn)
        h.spawned = spawned  # type: ignore[attr-defined]
        real, h.publisher = h.publisher, Bus()  # type: ignore[assignment]
        try:
            yield h
        finally:
            h.publisher = real


def spawned(host: Host) -> list[str]:
    return host.spawned  # type: ignore[attr-defined, no-any-return]


def told(host: Host) -> list[Fill]:
    assert isinstance(host.strategy, Recorder)
    return host.strategy.fills


def over_the_bus(type_: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(type, body) as a subscriber receives them: packed into an envelope and read back."""
    env = decode(encode(Envelope(type_, "broker", 1, 0.0, body)))
    return env.type, env.body


def flatten_fill(client_id: int = 0) -> tuple[str, dict[str, Any]]:
    """The desk's flatten of this strategy's SPY at a halt (placed by the master connection),
    as its ledger books it and publishes it."""
    ledger = Ledger()
    e = Execution(exec_id=EXEC_ID, perm_id=1000, order_id=1, client_id=client_id,
                  order_ref=f"ats:{NAME}:9", account="DU1", con_id=SPY_CON_ID, symbol="SPY",
                  sec_type="STK", currency="USD", multiplier=1.0, side="SLD", shares=5.0,
                  price=501.5, time=AT)
    ledger.apply_execution(e)
    ledger.apply_commission(CommissionReport(EXEC_ID, 1.25, "USD", None))
    [event] = ledger.fill_events()
    assert event.bus_type == FILL_TYPE
    return event.bus_type, event.encode()


def test_a_foreign_fill_from_the_ledger_reaches_the_strategy_once_and_retakes_the_book(
        host: Host) -> None:
    host.on_bus(*over_the_bus(*flatten_fill()))
    host.on_bus(*over_the_bus(*flatten_fill()))  # heard again: told once
    assert told(host) == [Fill(SPY.key, -5.0, 501.5, 1.25, pd.Timestamp(AT), f"ats:{NAME}:9")]
    assert spawned(host) == ["book after a foreign fill"]


def test_a_fill_this_hosts_own_connection_placed_is_not_told_again(host: Host) -> None:
    host.on_bus(*over_the_bus(*flatten_fill(client_id=CLIENT_ID)))
    assert told(host) == [] and spawned(host) == []


def test_a_transfer_leg_retakes_the_book(host: Host, caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger()
    ledger.apply_transfer(Transfer(
        transfer_id="t1", time=AT.isoformat(), con_id=SPY_CON_ID, symbol="SPY", sec_type="STK",
        multiplier=1.0, quantity=30.0, price=500.0, source=UNATTRIBUTED, dest=NAME,
        by="cli:tester", reason="manual hedge"))
    [_, into] = ledger.transfer_events(["t1"])
    with caplog.at_level(logging.WARNING, logger="ats.host"):
        host.on_bus(*over_the_bus(into.bus_type, into.encode()))
    assert into.bus_type == TRANSFER_TYPE
    assert spawned(host) == ["book after a transfer"] and told(host) == []
    assert "transfer t1: +30 SPY (conId 756733) into this book at 500.0 by cli:tester" in \
        caplog.text


@pytest.mark.parametrize(("change", "why"), [
    ({"side": "sold"}, "bad fill event: side must be BOT or SLD, got 'sold'"),
    ({"shares": None}, "bad fill event: shares must be a finite number, got None"),
    ({"v": SCHEMA + 1}, f"bad fill event: schema version {SCHEMA + 1}, this side speaks "
                        f"{SCHEMA}"),
])
def test_an_unreadable_fill_is_logged_in_one_line_and_skipped_and_the_next_is_handled(
        host: Host, caplog: pytest.LogCaptureFixture, change: dict[str, Any], why: str) -> None:
    type_, body = flatten_fill()
    with caplog.at_level(logging.WARNING, logger="ats.host"):
        host.on_bus(type_, {**body, **change})
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.ERROR, f"fill message skipped: {why}")
    assert told(host) == [] and spawned(host) == []
    host.on_bus(type_, body)
    assert len(told(host)) == 1 and spawned(host) == ["book after a foreign fill"]


def test_an_order_change_goes_out_as_an_order_update(host: Host) -> None:
    created = pd.Timestamp(AT)
    handle = OrderHandle(local_id=f"ats:{NAME}:3", request=OrderRequest(SPY, -5, "LMT",
                                                                         limit=500.0),
                         status=OrderStatus.FILLED, filled=-5.0, avg_price=501.5,
                         created=created)
    host.notify_status(handle)
    assert isinstance(host.publisher, Bus)
    [(topic, type_, body)] = host.publisher.sent
    assert (topic, type_, body["v"]) == (topics.order(NAME), ORDER_TYPE, SCHEMA)
    assert OrderUpdate.decode(over_the_bus(type_, body)[1]) == OrderUpdate(
        local_id=f"ats:{NAME}:3", status=OrderStatus.FILLED, filled=-5.0, avg_price=501.5,
        reason=None, instrument=SPY.key, quantity=-5.0, created=created.isoformat())
