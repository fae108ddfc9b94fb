"""Exactly-once recording, corrections, commission ordering and attribution."""

import pytest
from broker_testkit import commission, exec_id, fill

from ats.broker.ledger import UNATTRIBUTED, Ledger
from ats.orders.fills import split_exec_id


def test_duplicate_execution_is_ignored() -> None:
    ledger = Ledger()
    f = fill("BOT", 100, 10)
    assert ledger.apply_execution(f) is True
    assert ledger.apply_execution(f) is False
    assert ledger.position("alpha", 265598) == 100
    assert len(ledger.fills_df()) == 1


def test_duplicate_commission_is_ignored() -> None:
    ledger = Ledger()
    f = fill("BOT", 100, 10)
    ledger.apply_execution(f)
    assert not ledger.has_commission(f.exec_id)
    assert ledger.apply_commission(commission(f, 1.0)) is True
    assert ledger.has_commission(f.exec_id)
    assert ledger.apply_commission(commission(f, 1.0)) is False
    assert ledger.commissions("alpha") == 1.0


def test_split_exec_id_reads_correction_number() -> None:
    assert split_exec_id("0000e0d5.6574b2c3.01.01") == ("0000e0d5.6574b2c3.01", 1)
    assert split_exec_id("0000e0d5.6574b2c3.01.0a") == ("0000e0d5.6574b2c3.01", 10)
    assert split_exec_id("sim-17") == ("sim-17", 0)
    assert split_exec_id("a.b") == ("a.b", 0)


def test_correction_replaces_the_earlier_execution_in_place() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 100, 10, n=1))
    ledger.apply_execution(fill("SLD", 50, 12, n=2))  # realizes (12-10)*50 = 100
    # the first fill is corrected: it was 100 @ 11, so the sale realized (12-11)*50 = 50
    ledger.apply_execution(fill("BOT", 100, 11, n=1, correction=2))
    assert ledger.position("alpha", 265598) == 50
    assert ledger.realized_pnl("alpha") == pytest.approx(50.0)
    assert ledger.cash("alpha") == pytest.approx(-1_100.0 + 600.0)
    fills = ledger.fills_df()
    assert list(fills["exec_id"]) == [exec_id(1, 2), exec_id(2)]


def test_late_older_correction_does_not_override_newer() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 100, 10, n=1, correction=2))
    assert ledger.apply_execution(fill("BOT", 90, 10, n=1, correction=1)) is True
    assert ledger.position("alpha", 265598) == 100


def test_commission_of_a_superseded_version_stops_counting() -> None:
    ledger = Ledger()
    first = fill("BOT", 100, 10, n=1)
    ledger.apply_execution(first)
    ledger.apply_commission(commission(first, 1.0))
    corrected = fill("BOT", 100, 10, n=1, correction=2)
    ledger.apply_execution(corrected)
    assert ledger.commissions("alpha") == 0.0
    ledger.apply_commission(commission(corrected, 1.5))
    assert ledger.commissions("alpha") == 1.5


def test_commission_before_execution_is_held_until_it_arrives() -> None:
    ledger = Ledger(starting_cash={"alpha": 0.0})
    f = fill("BOT", 10, 10)
    assert ledger.apply_commission(commission(f, 2.0)) is True
    assert ledger.commissions("alpha") == 0.0
    ledger.apply_execution(f)
    assert ledger.commissions("alpha") == 2.0
    assert ledger.cash("alpha") == pytest.approx(-102.0)
    assert not ledger.fills_df().iloc[0]["commission_pending"]


def test_attribution_by_orderref_then_client_id_then_unattributed() -> None:
    ledger = Ledger(client_strategies={21: "beta"})
    ledger.apply_execution(fill("BOT", 1, 10, ref="ats:alpha:3", client_id=21))
    ledger.apply_execution(fill("BOT", 2, 10, ref="", client_id=21))
    ledger.apply_execution(fill("BOT", 4, 10, ref="manual ticket", client_id=0))
    assert ledger.position("alpha", 265598) == 1
    assert ledger.position("beta", 265598) == 2
    assert ledger.position(UNATTRIBUTED, 265598) == 4
    assert set(ledger.positions_df()["strategy"]) == {"alpha", "beta", UNATTRIBUTED}


def test_correction_moving_a_fill_between_books_recomputes_both() -> None:
    ledger = Ledger(client_strategies={21: "beta"})
    ledger.apply_execution(fill("BOT", 5, 10, n=1, ref="", client_id=99))
    assert ledger.position(UNATTRIBUTED, 265598) == 5
    ledger.apply_execution(fill("BOT", 5, 10, n=1, correction=2, ref="", client_id=21))
    assert ledger.position(UNATTRIBUTED, 265598) == 0
    assert ledger.position("beta", 265598) == 5


def test_strategy_books_sum_to_account_positions() -> None:
    ledger = Ledger(client_strategies={21: "beta"})
    ledger.apply_execution(fill("BOT", 10, 10, ref="ats:alpha:1"))
    ledger.apply_execution(fill("SLD", 3, 10, ref="", client_id=21))
    ledger.apply_execution(fill("BOT", 7, 10, ref="", client_id=5))
    ledger.apply_execution(fill("BOT", 2, 99, con_id=1, ref="ats:alpha:2"))
    pos = ledger.positions_df()
    summed = pos.groupby("con_id")["position"].sum().to_dict()
    assert summed == ledger.account_positions() == {265598: 14, 1: 2}
    assert ledger.account_position(265598) == 14
