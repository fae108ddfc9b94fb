"""README, "Approvals and the intent log": an approval is answered once its intent is written,
before its fsync. A crash of the machine can then lose the log's tail after the order left;
the venue still holds the order under its orderRef, so the broker's recovery gives its fill
to its strategy and never hands that intent id out again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from broker_testkit import FakeVenue, approve_params, broker_in, decide, fill, venue_fill

from ats.broker.main import Broker

pytestmark = pytest.mark.timeout(60)


class RecoveringVenue(FakeVenue):
    """The master connection after a restart: the order at the venue, and its fill."""

    def __init__(self, order_ref: str, fills: list[SimpleNamespace]) -> None:
        super().__init__()
        self._fills = fills
        self._open = [SimpleNamespace(
            order=SimpleNamespace(orderRef=order_ref, permId=7001, orderId=5),
            orderStatus=SimpleNamespace(status="Submitted", filled=4.0))]

    async def reqExecutionsAsync(self, _filter: Any) -> list[SimpleNamespace]:
        return self._fills

    def fills(self) -> list[SimpleNamespace]:
        return self._fills

    async def reqPositionsAsync(self) -> list[Any]:
        return []

    async def reqCompletedOrdersAsync(self, apiOnly: bool) -> list[Any]:
        return []

    def openTrades(self) -> list[SimpleNamespace]:
        return self._open


def approve(broker: Broker, **kw: Any) -> dict[str, Any]:
    return decide(broker, approve_params(**kw))


def test_a_lost_intent_tail_leaves_the_fill_with_its_strategy_and_its_id_unused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    with broker_in(home, monkeypatch) as broker:
        first = approve(broker)
        assert first["approved"] is True
        ref = first["order_ref"]
        log_path = broker.intents.path
    log_path.write_bytes(b"")  # the machine crashed before the fsync: the tail is gone

    with broker_in(home, monkeypatch) as broker:
        assert broker.intents.records() == []
        execution = fill("BOT", 4, 100.0, ref=ref)
        broker.ib = RecoveringVenue(ref, [venue_fill(execution)])
        asyncio.run(broker.recover())
        [row] = broker.ledger.fill_rows()
        assert (row["strategy"], row["order_ref"], row["shares"]) == ("alpha", ref, 4)
        second = approve(broker, side="SELL", quantity=4)
        assert second["approved"] is True
        assert second["intent_id"] > first["intent_id"]
        assert second["order_ref"] != ref
