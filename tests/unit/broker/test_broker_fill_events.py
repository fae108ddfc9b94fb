"""The desk publishes each fill it books as the order contract's FillEvent (ats.orders.events):
once its journal record is written, on ``fill.<strategy>``, with the ledger's own row as its body
plus the schema version.

A real Broker (ledger store on LMDB, group commit; no sockets, no venue) publishing into a
recorder."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from broker_testkit import FakePublisher, broker_in, fill, venue_fill

from ats.broker.main import Broker
from ats.orders.contract import SCHEMA
from ats.orders.events import FILL_TYPE, TRADE, FillEvent
from bus import topics

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    with broker_in(tmp_path / "home", monkeypatch) as b:
        yield b


def test_a_booked_fill_is_published_once_as_a_fill_event_with_the_ledgers_row(
        broker: Broker) -> None:
    e = fill("SLD", 5, 101.5, ref="ats:alpha:3", client_id=0)
    venue = venue_fill(e)
    venue.commissionReport = SimpleNamespace(execId=e.exec_id, commission=1.25, currency="USD",
                                             realizedPNL=None)

    async def deliver() -> None:
        broker.record_fill(venue)
        broker.record_fill(venue)  # the venue repeating it: booked and published once
        await asyncio.sleep(0)  # the batch's commit

    asyncio.run(deliver())
    publisher = broker.publisher
    assert isinstance(publisher, FakePublisher)
    [(topic, type_, body)] = [m for m in publisher.sent if m[0].startswith("fill.")]
    assert (topic, type_, body["v"]) == (topics.fill("alpha"), FILL_TYPE, SCHEMA)
    event = FillEvent.decode(body)
    assert (event.kind, event.exec_id, event.signed_shares, event.commission) == \
        (TRADE, e.exec_id, -5.0, 1.25)
    assert [event.row()] == broker.ledger.fill_rows()
