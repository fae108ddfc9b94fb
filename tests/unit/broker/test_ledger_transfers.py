"""Transfers between books (`ats-ctl assign`): the arithmetic worked out by hand, the
refusals, and the journal that keeps them across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from broker_testkit import T0, commission, fill

from ats.broker.ledger import UNATTRIBUTED, Ledger
from ats.broker.ledger_store import LedgerStore
from ats.broker.transfers import Request, Transfer, TransferRefused, make_transfer
from ats.errors import Code
from ats.orders.fills import Execution

CON = 265598
KNOWN = {"alpha", "beta", UNATTRIBUTED}


def manual(side: str, shares: float, price: float) -> Execution:
    """A trade nobody's orderRef claims (clientId 77): it lands in `unattributed`."""
    return fill(side, shares, price, ref="", client_id=77)


def move(ledger: Ledger, quantity: float, *, source: str = UNATTRIBUTED, dest: str = "alpha",
         price: float | None = None, n: int = 1, halted: set[str] | None = None,
         force: bool = False) -> Transfer:
    req = Request(f"t{n}", "AAPL", quantity, source, dest, price, "test", "cli:tester", force)
    t = make_transfer(ledger, req, known=KNOWN, halted=halted or set(), time=T0.isoformat())
    assert ledger.apply_transfer(t)
    return t


def account_sums(ledger: Ledger) -> tuple[float, float, float]:
    names = ledger.strategies()
    return (sum(ledger.cash(s) for s in names), sum(ledger.equity(s) for s in names),
            sum(ledger.realized_pnl(s) + ledger.unrealized_pnl(s) for s in names))


def test_long_part_moves_at_the_source_average_cost_and_realizes_nothing() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("BOT", 100, 10))
    ledger.apply_execution(manual("BOT", 100, 12))
    ledger.mark({CON: 15.0})
    before = account_sums(ledger)

    t = move(ledger, 50)

    assert t.quantity == 50 and t.price == pytest.approx(11.0)
    assert ledger.position(UNATTRIBUTED, CON) == 150
    assert ledger.position("alpha", CON) == 50
    assert ledger.avg_cost("alpha", CON) == pytest.approx(11.0)
    assert ledger.avg_cost(UNATTRIBUTED, CON) == pytest.approx(11.0)
    assert ledger.realized_pnl(UNATTRIBUTED) == 0.0
    assert ledger.unrealized_pnl("alpha") == pytest.approx(200.0)  # (15-11)*50
    assert ledger.account_position(CON) == 200
    assert account_sums(ledger) == pytest.approx(before)


def test_part_of_a_short_moves_as_a_negative_quantity() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("SLD", 100, 20))

    t = move(ledger, 40)  # unsigned: follows the short

    assert t.quantity == -40
    assert ledger.position(UNATTRIBUTED, CON) == -60
    assert ledger.position("alpha", CON) == -40
    assert ledger.avg_cost("alpha", CON) == pytest.approx(20.0)
    assert move(ledger, -10, n=2).quantity == -10  # signed like the short: also fine
    assert ledger.position("alpha", CON) == -50
    assert ledger.account_position(CON) == -100


def test_a_price_sets_the_basis_and_realizes_the_difference_in_the_source() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("BOT", 100, 10))
    ledger.mark({CON: 14.0})
    before = account_sums(ledger)

    move(ledger, 100, price=13.0)

    assert ledger.realized_pnl(UNATTRIBUTED) == pytest.approx(300.0)  # (13-10)*100
    assert ledger.position(UNATTRIBUTED, CON) == 0
    assert ledger.avg_cost("alpha", CON) == pytest.approx(13.0)
    assert ledger.unrealized_pnl("alpha") == pytest.approx(100.0)  # (14-13)*100
    assert account_sums(ledger) == pytest.approx(before)


def test_a_short_moved_at_a_price_realizes_with_the_short_sign() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("SLD", 10, 50))
    move(ledger, 10, price=45.0)
    # the source "covers" at 45 what it sold at 50
    assert ledger.realized_pnl(UNATTRIBUTED) == pytest.approx(50.0)
    assert ledger.position("alpha", CON) == -10


def test_the_destination_manages_the_moved_position_by_its_later_trades() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("BOT", 100, 10))
    move(ledger, 100)
    ledger.apply_execution(fill("SLD", 100, 12))  # alpha's own order closes it
    assert ledger.position("alpha", CON) == 0
    assert ledger.realized_pnl("alpha") == pytest.approx(200.0)
    assert ledger.account_position(CON) == 0
    assert ledger.pnl_row("alpha")["fills"] == 1  # the transfer is not a fill


@pytest.mark.parametrize(("quantity", "kwargs", "code", "words"), [
    (101, {}, Code.BAD_PARAMS, "unattributed holds 100 AAPL: cannot move 101"),
    (-5, {}, Code.BAD_PARAMS, "is long 100 AAPL: cannot move -5"),
    (0, {}, Code.BAD_PARAMS, "must not be 0"),
    (10, {"dest": "nobody"}, Code.UNKNOWN_STRATEGY, "unknown strategy 'nobody'"),
    (10, {"source": "beta"}, Code.BAD_PARAMS, "beta holds no AAPL"),
    (10, {"dest": UNATTRIBUTED}, Code.BAD_PARAMS, "both unattributed"),
    (10, {"halted": {"alpha"}}, Code.HALTED, "alpha is HALTED"),
    (10, {"price": -1.0}, Code.BAD_PARAMS, "price must be a positive number"),
])
def test_refusals_name_the_reason_and_change_nothing(
        quantity: float, kwargs: dict[str, object], code: str, words: str) -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("BOT", 100, 10))
    with pytest.raises(TransferRefused, match=words) as info:
        move(ledger, quantity, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == code
    assert "\n" not in str(info.value)
    assert ledger.position(UNATTRIBUTED, CON) == 100
    assert ledger.transfers() == []


def test_force_moves_into_a_halted_strategy_and_says_so() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("BOT", 100, 10))
    t = move(ledger, 10, halted={"alpha"}, force=True)
    assert t.forced
    assert ledger.position("alpha", CON) == 10


def test_a_transfer_is_booked_once_by_its_id() -> None:
    ledger = Ledger()
    ledger.apply_execution(manual("BOT", 100, 10))
    t = move(ledger, 30)
    assert not ledger.apply_transfer(t)
    assert ledger.position("alpha", CON) == 30


def test_fills_show_the_transfer_as_two_legs_of_kind_transfer_after_the_trade() -> None:
    ledger = Ledger()
    trade = manual("BOT", 100, 10)
    ledger.apply_execution(trade)
    ledger.apply_commission(commission(trade, 1.0))
    move(ledger, 30)
    rows = ledger.recent_fills()
    assert [(r["kind"], r["strategy"], r.get("side")) for r in rows] == [
        ("trade", UNATTRIBUTED, "BOT"), ("transfer", UNATTRIBUTED, "OUT"),
        ("transfer", "alpha", "IN")]
    out, into = rows[1], rows[2]
    assert (out["position_change"], into["position_change"]) == (-30, 30)
    assert out["by"] == "cli:tester" and out["reason"] == "test"
    assert len({r["exec_id"] for r in rows}) == 3  # views key fills by exec_id
    assert [r["kind"] for r in ledger.recent_fills("alpha")] == ["transfer"]
    assert all(r["kind"] == "trade" for r in ledger.fill_rows())


def test_a_correction_of_an_earlier_trade_recomputes_with_the_transfer_in_place() -> None:
    ledger = Ledger()
    first = fill("BOT", 100, 10, ref="", client_id=77, n=900)
    ledger.apply_execution(first)
    move(ledger, 100, price=12.0)
    ledger.apply_execution(fill("BOT", 100, 9, ref="", client_id=77, n=900, correction=2))
    # the source gave 100 at 12 that it now bought at 9
    assert ledger.realized_pnl(UNATTRIBUTED) == pytest.approx(300.0)
    assert ledger.position(UNATTRIBUTED, CON) == 0
    assert ledger.position("alpha", CON) == 100


def test_the_journal_keeps_a_transfer_in_its_place_across_a_restart(tmp_path: Path) -> None:
    uri = f"lmdb://{tmp_path / 'arctic'}"
    store = LedgerStore(tmp_path / "state", uri)
    ledger = Ledger()
    first, second = manual("BOT", 100, 10), manual("SLD", 20, 12)
    store.record_execution(first)
    ledger.apply_execution(first)
    t = move(ledger, 50)
    store.record_transfer(t)
    store.record_execution(second)
    ledger.apply_execution(second)
    store.flush_to_arctic()
    store.record_transfer(move(ledger, 10, n=2))  # left in the journal only
    store.close(flush=False)

    reopened = LedgerStore(tmp_path / "state", uri)
    again = Ledger()
    again.replay(*reopened.load())
    reopened.close(flush=False)
    assert again.position("alpha", CON) == 60
    assert again.position(UNATTRIBUTED, CON) == 20
    assert again.recent_fills() == ledger.recent_fills()


def test_a_symbol_held_in_two_contracts_needs_its_con_id_and_moves_that_one() -> None:
    ledger = Ledger()
    for con_id, perm in ((501, 1), (502, 2)):
        ledger.apply_execution(fill("SLD", 2, 20.0, ref="", client_id=77, con_id=con_id,
                                    symbol="VXM", sec_type="FUT", multiplier=100.0,
                                    perm_id=perm))
    ask = Request("t1", "VXM", -1, UNATTRIBUTED, "alpha", None, "test", "web:op")
    with pytest.raises(TransferRefused, match=r"several contracts \(conIds 501, 502\)"):
        make_transfer(ledger, ask, known=KNOWN, halted=set(), time=T0.isoformat())
    t = make_transfer(ledger, Request("t1", "VXM", -1, UNATTRIBUTED, "alpha", None, "test",
                                      "web:op", con_id=502),
                      known=KNOWN, halted=set(), time=T0.isoformat())
    assert ledger.apply_transfer(t)
    assert (ledger.position("alpha", 502), ledger.position(UNATTRIBUTED, 502)) == (-1, -1)
    assert ledger.position(UNATTRIBUTED, 501) == -2
