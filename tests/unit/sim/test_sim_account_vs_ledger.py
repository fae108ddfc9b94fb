"""Property test: the simulator's account and the broker's ledger book the same fills alike.

Random fills, long and short, crossing through zero, partial, with commissions, in a stock and
a future. After every sequence the simulator's P&L (RealizedPnL + UnrealizedPnL, and the change
in NetLiquidation) equals the ledger's TOTAL (net realized + unrealized) to the cent, and the
positions are equal: what `ats-ctl pnl` shows as TOTAL and ACCOUNT must agree.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.broker.ledger import Ledger
from ats.orders.fills import CommissionReport, Execution
from ats.sim.account import Account
from ats.sim.universe import Instrument, Universe

UNIVERSE = Universe()
START_CASH = 1_000_000.0


def _instruments() -> dict[str, Instrument]:
    spy = UNIVERSE.by_symbol("SPY")
    vxm = next(f for f in UNIVERSE.futures(dt.date(2026, 11, 18)) if f.klass == "VXM")
    assert spy is not None
    return {"SPY": spy, "VXM": vxm}


INSTRUMENTS = _instruments()

fills = st.lists(
    st.tuples(st.sampled_from(sorted(INSTRUMENTS)),
              st.integers(-400, 400).filter(bool),  # signed quantity
              st.integers(1_000, 60_000),  # price, cents
              st.integers(0, 500)),  # commission, cents
    min_size=1, max_size=25)


def _book_both(seq: list[tuple[str, int, int, int]]) -> tuple[Account, Ledger]:
    account = Account("DU1", {"USD": START_CASH})
    ledger = Ledger(starting_cash={"s": START_CASH})
    for n, (name, qty, cents, fee_cents) in enumerate(seq):
        inst = INSTRUMENTS[name]
        price, fee = cents / 100, fee_cents / 100
        account.apply_fill(inst, float(qty), price, fee, "202611")
        exec_id = f"0000e0f1.{n:08x}.01.01"
        ledger.apply_execution(Execution(
            exec_id, 1000 + n, n, 11, "ats:s:1", "DU1", inst.con_id, inst.symbol, inst.sec_type,
            "USD", float(inst.multiplier), "BOT" if qty > 0 else "SLD", float(abs(qty)), price,
            dt.datetime(2026, 11, 18, tzinfo=dt.UTC)))
        ledger.apply_commission(CommissionReport(exec_id, fee, "USD", None))
    return account, ledger


@settings(max_examples=300, deadline=None)
@given(fills, st.dictionaries(st.sampled_from(sorted(INSTRUMENTS)), st.integers(1_000, 60_000)))
def test_sim_account_pnl_and_positions_equal_the_ledger_total(
        seq: list[tuple[str, int, int, int]], mark_cents: dict[str, int]) -> None:
    account, ledger = _book_both(seq)
    marks = {INSTRUMENTS[n].con_id: mark_cents.get(n, 20_000) / 100 for n in INSTRUMENTS}
    ledger.mark(marks)
    by_id = {i.con_id: i for i in INSTRUMENTS.values()}
    summary = account.summary(by_id.get, lambda inst: marks[inst.con_id])
    total = ledger.realized_pnl("s", net=True) + ledger.unrealized_pnl("s")
    assert summary["RealizedPnL"] + summary["UnrealizedPnL"] == pytest.approx(total, abs=0.01)
    assert summary["NetLiquidation"] - START_CASH == pytest.approx(total, abs=0.01)
    for con_id in by_id:
        pos = account.positions.get(con_id)
        assert (pos.qty if pos else 0.0) == ledger.position("s", con_id)


def test_a_short_opened_and_covered_at_the_same_price_loses_both_commissions() -> None:
    account, ledger = _book_both([("SPY", -100, 50_000, 100), ("SPY", 100, 50_000, 100)])
    assert account.realized == pytest.approx(-2.0)
    assert ledger.realized_pnl("s", net=True) == pytest.approx(-2.0)
