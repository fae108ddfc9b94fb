"""Ledger arithmetic checked against numbers worked out by hand."""

import pytest
from broker_testkit import commission, fill

from ats.broker.ledger import Ledger


def test_add_reduce_cross_zero_and_close_with_commissions() -> None:
    ledger = Ledger(starting_cash={"alpha": 10_000.0})
    fills = [fill("BOT", 100, 10), fill("BOT", 100, 12)]
    for f in fills:
        ledger.apply_execution(f)
    assert ledger.position("alpha", 265598) == 200
    assert ledger.positions_df().iloc[0]["avg_cost"] == pytest.approx(11.0)

    fills.append(fill("SLD", 50, 15))
    ledger.apply_execution(fills[-1])
    assert ledger.realized_pnl("alpha") == pytest.approx(200.0)  # (15-11)*50
    assert ledger.positions_df().iloc[0]["avg_cost"] == pytest.approx(11.0)

    fills.append(fill("SLD", 200, 9))  # closes 150 at -2, opens 50 short at 9
    ledger.apply_execution(fills[-1])
    assert ledger.realized_pnl("alpha") == pytest.approx(-100.0)
    assert ledger.position("alpha", 265598) == -50
    assert ledger.positions_df().iloc[0]["avg_cost"] == pytest.approx(9.0)

    fills.append(fill("BOT", 50, 8))  # short covered 1 lower: +50
    ledger.apply_execution(fills[-1])
    assert ledger.realized_pnl("alpha") == pytest.approx(-50.0)
    assert ledger.position("alpha", 265598) == 0

    for f in fills:
        ledger.apply_commission(commission(f, 1.0))
    assert ledger.commissions("alpha") == pytest.approx(5.0)
    assert ledger.realized_pnl("alpha", net=True) == pytest.approx(-55.0)
    assert ledger.cash("alpha") == pytest.approx(9_945.0)
    assert ledger.equity("alpha") == pytest.approx(9_945.0)
    pnl = ledger.pnl_df().set_index("strategy").loc["alpha"]
    assert pnl["fills"] == 5
    assert pnl["equity"] == pytest.approx(9_945.0)


def test_futures_multiplier_scales_pnl_cash_and_value() -> None:
    ledger = Ledger()
    kw = {"con_id": 495512563, "symbol": "ES", "sec_type": "FUT", "multiplier": 50.0}
    ledger.apply_execution(fill("BOT", 2, 4000, **kw))
    ledger.apply_execution(fill("SLD", 1, 4010, **kw))
    ledger.mark({495512563: 4020.0})
    assert ledger.realized_pnl("alpha") == pytest.approx(500.0)
    assert ledger.unrealized_pnl("alpha") == pytest.approx(1_000.0)
    assert ledger.cash("alpha") == pytest.approx(-199_500.0)
    assert ledger.market_value("alpha") == pytest.approx(201_000.0)
    assert ledger.equity("alpha") == pytest.approx(1_500.0)
    assert ledger.gross_exposure("alpha") == pytest.approx(201_000.0)


def test_short_position_unrealized_pnl_gains_when_price_falls() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("SLD", 10, 50))
    ledger.mark({265598: 45.0})
    row = ledger.positions_df().iloc[0]
    assert row["position"] == -10
    assert row["unrealized_pnl"] == pytest.approx(50.0)
    assert row["market_value"] == pytest.approx(-450.0)


def test_unmarked_position_is_valued_at_last_fill_price() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 10, 50))
    ledger.apply_execution(fill("BOT", 10, 52))
    assert ledger.unrealized_pnl("alpha") == pytest.approx(20.0)  # (52-51)*20


def test_equity_curve_samples_one_row_per_strategy() -> None:
    ledger = Ledger(starting_cash={"alpha": 1_000.0, "beta": 500.0})
    ledger.apply_execution(fill("BOT", 1, 10))
    ledger.sample_equity(1_700_000_000.0)
    ledger.mark({265598: 11.0})
    ledger.sample_equity(1_700_000_060.0)
    df = ledger.equity_df()
    assert list(df["strategy"]) == ["alpha", "beta", "alpha", "beta"]
    assert list(df["equity"]) == pytest.approx([1_000.0, 500.0, 1_001.0, 500.0])
