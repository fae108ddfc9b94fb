"""Execution corrections in the simulator: the venue re-sends a trade with the next correction
number, and its account books it in place of the earlier version, so that the broker's ledger
(which applies corrections the same way) still equals the account."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pinned import SESSION_TS

from ats.broker.ledger import Ledger
from ats.orders.fills import CommissionReport, Execution
from ats.sim.account import Account, BookedFill
from ats.sim.clock import SimClock
from ats.sim.market import Market
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.universe import Instrument, Universe
from ats.sim.venue import Venue

UNIVERSE = Universe()
SPY = UNIVERSE.by_symbol("SPY")
VXM = next(f for f in UNIVERSE.futures(dt.date(2026, 11, 18)) if f.klass == "VXM")
MONTH = "202611"


class Sink:
    def __init__(self) -> None:
        self.fills: list[SimExecution] = []

    def order_changed(self, order: SimOrder, inst: Instrument) -> None:
        pass

    def order_filled(self, order: SimOrder, execution: SimExecution, inst: Instrument) -> None:
        self.fills.append(execution)

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        raise AssertionError(text)


@pytest.fixture
def venue() -> Venue:
    v = Venue(UNIVERSE, Market(UNIVERSE, 1), SimClock(SESSION_TS.to_pydatetime()), ["DU1"],
              1_000_000.0)
    v.sink = Sink()
    return v


def buy(venue: Venue, order_id: int, qty: float) -> SimExecution:
    assert SPY is not None
    venue.place(SimOrder(7, order_id, 0, "DU1", SPY.con_id, "BUY", qty, "MKT", None, None,
                         "DAY", order_ref="ats:probe:1"), SPY)
    return venue.executions[-1]


@pytest.mark.parametrize("inst", [SPY, VXM], ids=["stock", "future"])
def test_a_rebooked_history_equals_the_corrected_history_booked_from_the_start(
        inst: Instrument) -> None:
    before: list[BookedFill] = [(100, 50.0, 1.0, MONTH), (-150, 52.0, 1.5, MONTH),
                                (80, 49.0, 0.8, MONTH)]
    after = [before[0], (-120, 53.0, 1.2, MONTH), before[2]]
    rebooked, fresh = Account("DU1", {"USD": 1e6}), Account("DU1", {"USD": 1e6})
    for fill in before:
        rebooked.apply_fill(inst, *fill)
    realized = rebooked.rebook(inst, before, after)
    expected = [fresh.apply_fill(inst, *fill) for fill in after]
    assert realized == expected
    assert rebooked.cash["USD"] == pytest.approx(fresh.cash["USD"])
    assert rebooked.realized == pytest.approx(fresh.realized)
    assert rebooked.monthly_shares == pytest.approx(fresh.monthly_shares)
    position = fresh.positions[inst.con_id]
    assert vars(rebooked.positions[inst.con_id]) == pytest.approx(vars(position))


def test_a_correction_is_sent_like_a_fill_with_the_next_number_and_new_price_and_shares(
        venue: Venue) -> None:
    old = buy(venue, 1, 40)
    new = venue.correct_execution(old.exec_id, price=old.price + 1.0, shares=30)
    assert new.exec_id == old.exec_id[:-2] + "02"
    assert (new.shares, new.price, new.perm_id) == (30, old.price + 1.0, old.perm_id)
    assert new.commission == pytest.approx(round(old.commission * 30 / 40, 4))
    assert venue.sink.fills[-1] is new  # type: ignore[attr-defined]
    assert venue.executions[-2:] == [old, new]  # both versions, as reqExecutions gives
    assert venue.orders[(7, 1)].filled == 30
    assert venue.accounts["DU1"].positions[new.con_id].qty == 30


def test_correcting_again_corrects_the_latest_version_whichever_id_is_named(
        venue: Venue) -> None:
    old = buy(venue, 1, 40)
    venue.correct_execution(old.exec_id, shares=30)
    third = venue.correct_execution(old.exec_id, shares=20, commission=0.5)
    assert third.exec_id == old.exec_id[:-2] + "03" and third.commission == 0.5
    assert venue.accounts["DU1"].positions[old.con_id].qty == 20


def test_an_unknown_execution_or_a_bad_quantity_is_refused(venue: Venue) -> None:
    old = buy(venue, 1, 40)
    with pytest.raises(KeyError):
        venue.correct_execution("0000ffff.00000001.01.01", price=1.0)
    with pytest.raises(ValueError):
        venue.correct_execution(old.exec_id, shares=0)


def _ledger_execution(e: SimExecution) -> Execution:
    assert SPY is not None
    return Execution(e.exec_id, e.perm_id, e.order_id, e.client_id, e.order_ref, e.account,
                     e.con_id, SPY.symbol, "STK", "USD", 1.0, e.side, e.shares, e.price,
                     dt.datetime.fromtimestamp(e.time, dt.UTC))


def test_after_a_correction_the_account_still_equals_the_ledger(venue: Venue) -> None:
    assert SPY is not None
    first, second = buy(venue, 1, 40), buy(venue, 2, 25)
    venue.correct_execution(first.exec_id, price=first.price - 2.0, shares=35)
    ledger = Ledger(starting_cash={"probe": 1_000_000.0})
    for e in venue.executions:
        ledger.apply_execution(_ledger_execution(e))
        ledger.apply_commission(CommissionReport(e.exec_id, e.commission, "USD", None))
    account = venue.accounts["DU1"]
    mark: dict[int, Any] = {SPY.con_id: second.price}
    ledger.mark(mark)
    summary = account.summary(UNIVERSE.by_con_id, lambda inst: mark[inst.con_id])
    assert account.positions[SPY.con_id].qty == ledger.position("probe", SPY.con_id) == 60
    assert summary["TotalCashValue"] == pytest.approx(ledger.cash("probe"), abs=1e-6)
    assert summary["NetLiquidation"] == pytest.approx(ledger.equity("probe"), abs=1e-6)
