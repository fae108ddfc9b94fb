"""The broker's `assign` service (ats-ctl assign): a real Broker (ledger store on LMDB, no
sockets, no venue) journals a transfer before it books it, once per transfer_id, tells both
books' hosts, refuses with the service codes ats-ctl maps to exit codes, and a broker started
again on the same home has it."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_testkit import FakePublisher, broker_in, fill

from ats.broker.journal import Journal
from ats.broker.ledger import UNATTRIBUTED
from ats.broker.main import Broker
from ats.broker.tradingstate import TradingState
from ats.errors import Code
from ats.orders.events import FillEvent
from bus import topics
from bus.errors import Code as BusCode
from bus.errors import RequestError

pytestmark = pytest.mark.timeout(60)
CON = 265598


def registered(broker: Broker, *names: str) -> None:
    async def listed() -> None:  # the registry, as the manager would answer
        broker.registered = set(names)

    broker.refresh_clients = listed  # type: ignore[method-assign]


def manual_buy(broker: Broker, shares: float, price: float) -> None:
    e = fill("BOT", shares, price, ref="", client_id=77)
    broker.store.record_execution(e)
    broker.ledger.apply_execution(e)


def assign(broker: Broker, transfer_id: str = "t1", **kw: Any) -> dict[str, Any]:
    params = {"transfer_id": transfer_id, "symbol": "AAPL", "quantity": 30, "dest": "alpha",
              "by": "cli:tester", "reason": "test", **kw}
    return asyncio.run(asyncio.wait_for(broker.m_assign(params), 30))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def broker(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    with broker_in(home, monkeypatch) as b:
        registered(b, "alpha", "beta")
        manual_buy(b, 100, 10.0)
        yield b


def test_a_transfer_is_booked_once_told_to_both_books_and_kept_across_a_restart(
        broker: Broker, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = assign(broker)["transfer"]
    assert [(r["strategy"], r["side"], r["position_change"]) for r in rows] == [
        (UNATTRIBUTED, "OUT", -30), ("alpha", "IN", 30)]
    assert assign(broker)["transfer"] == rows  # a retried request: the same, booked once
    assert broker.ledger.position("alpha", CON) == 30
    assert broker.ledger.position(UNATTRIBUTED, CON) == 70
    publisher = broker.publisher
    assert isinstance(publisher, FakePublisher)
    assert [(topic, body["side"]) for topic, type_, body in publisher.sent
            if type_ == "transfer"] == [(topics.fill(UNATTRIBUTED), "OUT"),
                                        (topics.fill("alpha"), "IN")]
    # each leg goes out as the order contract's FillEvent: the row the request returned
    assert [FillEvent.decode(body).row() for _, type_, body in publisher.sent
            if type_ == "transfer"] == rows
    broker.store.close(flush=False)  # as a kill would leave it: journal only
    with broker_in(home, monkeypatch) as again:
        assert again.ledger.position("alpha", CON) == 30
        assert again.ledger.position(UNATTRIBUTED, CON) == 70
        assert again.ledger.recent_fills("alpha") == broker.ledger.recent_fills("alpha")


@pytest.mark.parametrize(("kw", "code", "words"), [
    ({"quantity": 101}, Code.BAD_PARAMS, "unattributed holds 100 AAPL: cannot move 101"),
    ({"dest": "nobody"}, Code.UNKNOWN_STRATEGY, "unknown strategy 'nobody'"),
    ({"symbol": "MSFT"}, Code.BAD_PARAMS, "unattributed holds no MSFT"),
    ({"quantity": "many"}, Code.BAD_PARAMS, "bad assign request"),
])
def test_refusals_carry_the_code_ats_ctl_maps(broker: Broker, kw: dict[str, Any], code: str,
                                              words: str) -> None:
    with pytest.raises(RequestError) as info:
        assign(broker, **kw)
    assert info.value.code == code and words in info.value.message
    assert broker.ledger.transfers() == []


def test_a_halted_destination_takes_it_only_with_force(broker: Broker) -> None:
    broker.states.set_strategy("alpha", TradingState.HALTED)
    with pytest.raises(RequestError) as info:
        assign(broker)
    assert info.value.code == Code.HALTED
    [out, _] = assign(broker, force=True)["transfer"]
    assert out["forced"] is True


def test_a_journal_that_cannot_write_leaves_the_books_unchanged(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: Journal, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Journal, "_write", disk_full)
    with pytest.raises(RequestError) as info:
        assign(broker)
    assert info.value.code == BusCode.INTERNAL and "not moved" in info.value.message
    assert broker.ledger.position("alpha", CON) == 0
    assert broker.ledger.transfers() == []
