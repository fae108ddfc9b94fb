"""Several venues in one broker (ats/broker/service.py): a desk per venue, each request about
one strategy routed to its venue's desk, the account-wide ones asked of every desk and merged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_testkit import FakePublisher, FakeVenue, approve_params, fill, venue_fill

from ats import config
from ats.broker import main as broker_main
from ats.broker.service import BrokerProcess
from ats.errors import Code
from bus.errors import RequestError

pytestmark = pytest.mark.timeout(60)

SECOND = {"name": "second", "kind": "ib", "port": 14012}


class FakeRegistry:
    """The manager's `list`, as the broker asks it for each strategy's venue."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.asked = 0

    async def request(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert method == "list"
        self.asked += 1
        return self.entries


@pytest.fixture
def process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokerProcess]:
    monkeypatch.setattr(broker_main, "Publisher", FakePublisher)
    cfg = config.init_home(tmp_path / "home", {"venues": [SECOND]})
    proc = BrokerProcess(cfg)
    proc.wiring.manager = FakeRegistry([  # type: ignore[assignment]
        {"name": "alpha", "client_id": 11, "venue": ""},
        {"name": "beta", "client_id": 12, "venue": "second"}])
    for desk in proc.desks.values():
        desk.ib = FakeVenue()
        desk.connected = True
        desk.manager = proc.wiring.manager
    try:
        yield proc
    finally:
        for desk in proc.desks.values():
            desk.syncer.close()
            desk.store.close(flush=False)
            desk.intents.close()
        proc.wiring.sync_zctx.term()
        proc.wiring.zctx.term()


def ask(proc: BrokerProcess, method: str, **params: Any) -> Any:
    """What the service answers `method`, as its ROUTER would call the handler."""
    async def call() -> Any:
        out = proc.wiring.service._handlers[method](params)
        return await out if asyncio.iscoroutine(out) else out

    return asyncio.run(asyncio.wait_for(call(), 30))


def test_an_approval_goes_to_the_desk_of_the_strategys_venue(
        process: BrokerProcess) -> None:
    decision = ask(process, "approve", **approve_params(strategy="beta"))
    assert decision["approved"], decision
    second, main = process.desks["second"], process.desks["main"]
    assert [r.intent.strategy for r in second.intents.records()] == ["beta"]
    assert main.intents.records() == []
    assert second.intents.path.parent == process.cfg.state_dir / "venues" / "second"


def test_a_strategy_the_registry_does_not_know_is_refused_not_guessed(
        process: BrokerProcess) -> None:
    with pytest.raises(RequestError) as err:
        ask(process, "approve", **approve_params(strategy="gamma"))
    assert err.value.code == Code.UNKNOWN_STRATEGY
    assert all(not d.intents.records() for d in process.desks.values())


def test_books_of_all_venues_come_back_together_each_row_naming_its_venue(
        process: BrokerProcess) -> None:
    async def book() -> None:
        for name, strategy, qty in (("main", "alpha", 10), ("second", "beta", 7)):
            process.desks[name].record_fill(venue_fill(fill("BOT", qty, 100.0, n=1,
                                                            ref=f"ats:{strategy}:1")))
        await asyncio.sleep(0)

    asyncio.run(book())
    positions = ask(process, "positions")
    assert {(r["strategy"], r["venue"], r["position"]) for r in positions} == {
        ("alpha", "main", 10.0), ("beta", "second", 7.0)}
    fills = ask(process, "fills", limit=1)
    assert len(fills) == 1
    # Two Gateways may hand out the same execIds: each venue's ledger is its own library.
    assert broker_main.ledger_library(process.cfg, SECOND) == "ledger-second"


def test_an_account_halt_reaches_every_venue_and_a_strategy_halt_only_its_own(
        process: BrokerProcess) -> None:
    answer = ask(process, "halt", strategy="beta", by="test")
    assert process.desks["second"].states.effective("beta").name == "HALTED"
    assert "beta" not in process.desks["main"].states.strategies
    assert answer["trading_state"]["strategies"] == {"beta": "HALTED"}
    ask(process, "halt", by="test")
    assert all(d.states.global_state.name == "HALTED" for d in process.desks.values())
    assert [d.ib.global_cancels for d in process.desks.values()] == [1, 1]
    state = ask(process, "trading_state")
    assert set(state["venues"]) == {"main", "second"}


def test_reconciliation_breaks_name_their_venue(process: BrokerProcess) -> None:
    second = process.desks["second"]
    assert isinstance(second.ib, FakeVenue)
    second.ib.account = {265598: 5.0}
    for _ in range(broker_main.BREAK_CONFIRMATIONS):
        ask(process, "reconcile")
    result = ask(process, "reconcile")
    assert [(b["con_id"], b["venue"]) for b in result["breaks"]] == [(265598, "second")]


def test_account_figures_add_up_over_venues_and_count_each_venue_once() -> None:
    from ats.broker.account import account_totals

    rows = [{"tag": "NetLiquidation", "currency": "USD", "value": "100"},
            {"tag": "NetLiquidation", "currency": "BASE", "value": "100"},
            {"tag": "NetLiquidation", "currency": "USD", "value": "50", "venue": "second"},
            {"tag": "NetLiquidation", "currency": "EUR", "value": "9", "venue": "second"}]
    assert account_totals(rows) == {"NetLiquidation": 150.0}
