"""One rejection per limit, with the limit and numbers in the reason."""

from __future__ import annotations

import pytest
from broker_testkit import fill, intent

from ats.broker.ledger import Ledger
from ats.broker.risk import Limits, RiskEngine
from ats.broker.tradingstate import TradingState, TradingStates

NOW = 1_000_000.0


def engine(strategy: Limits | None = None, account: Limits | None = None,
           msgs_per_second: int = 45) -> RiskEngine:
    return RiskEngine(account or Limits(), {"alpha": strategy} if strategy else None,
                      Limits(), msgs_per_second=msgs_per_second)


def test_unlimited_engine_approves() -> None:
    d = engine().check(intent(), Ledger(), TradingStates(), NOW)
    assert d.approved and d.code == "ok" and d.limit is None


def test_max_order_qty_names_limit_and_numbers() -> None:
    d = engine(Limits(max_order_qty=100)).check(intent(quantity=500), Ledger(), TradingStates(),
                                                NOW)
    assert not d.approved
    assert d.limit == "max_order_qty"
    assert d.reason == "max_order_qty: 500 > limit 100 (strategy alpha)"


def test_account_limit_applies_after_strategy_limit() -> None:
    d = engine(Limits(max_order_qty=1000), Limits(max_order_qty=100)).check(
        intent(quantity=500), Ledger(), TradingStates(), NOW)
    assert d.reason == "max_order_qty: 500 > limit 100 (account)"


def test_max_order_notional() -> None:
    d = engine(Limits(max_order_notional=50_000)).check(
        intent(quantity=10, ref_price=4000, multiplier=50), Ledger(), TradingStates(), NOW)
    assert d.reason == "max_order_notional: 2000000 > limit 50000 (strategy alpha)"


def test_max_position_counts_the_existing_position() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 80, 100))
    d = engine(Limits(max_position=100)).check(intent(quantity=30), ledger, TradingStates(), NOW)
    assert d.reason == "max_position: 110 > limit 100 (strategy alpha)"
    assert engine(Limits(max_position=100)).check(
        intent("SELL", 30), ledger, TradingStates(), NOW).approved


def test_max_position_for_the_account_sums_all_books() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 80, 100, ref="ats:beta:1"))
    d = engine(account=Limits(max_position=100)).check(
        intent(quantity=30), ledger, TradingStates(), NOW)
    assert d.reason == "max_position: 110 > limit 100 (account)"


def test_max_gross_exposure() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 50, 100, con_id=7))  # 5,000 in another contract
    d = engine(Limits(max_gross_exposure=10_000)).check(
        intent(quantity=60, ref_price=100), ledger, TradingStates(), NOW)
    assert d.reason == "max_gross_exposure: 11000 > limit 10000 (strategy alpha)"


def test_reducing_orders_pass_position_and_exposure_limits_when_over() -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 500, 100))
    risk = engine(Limits(max_position=100, max_gross_exposure=1_000))
    assert risk.check(intent("SELL", 100), ledger, TradingStates(), NOW).approved
    assert not risk.check(intent("SELL", 1_000), ledger, TradingStates(), NOW).approved


def test_max_orders_per_minute_uses_a_sliding_window() -> None:
    risk = engine(Limits(max_orders_per_minute=2))
    states, ledger = TradingStates(), Ledger()
    assert risk.check(intent(), ledger, states, NOW).approved
    assert risk.check(intent(), ledger, states, NOW + 10).approved
    d = risk.check(intent(), ledger, states, NOW + 20)
    assert d.reason == "max_orders_per_minute: 3 > limit 2 (strategy alpha)"
    assert risk.check(intent(), ledger, states, NOW + 60.5).approved


def test_pacing_guard_caps_approvals_per_second_per_client() -> None:
    risk = engine(msgs_per_second=3)
    states, ledger = TradingStates(), Ledger()
    for _ in range(3):
        assert risk.check(intent(), ledger, states, NOW, client_id=11).approved
    d = risk.check(intent(), ledger, states, NOW + 0.5, client_id=11)
    assert d.code == "pacing" and d.limit == "msgs_per_second"
    assert d.reason == "pacing: 4 orders in 1 s > limit 3 (clientId 11)"
    assert risk.check(intent(), ledger, states, NOW + 0.5, client_id=12).approved
    assert risk.check(intent(), ledger, states, NOW + 1.01, client_id=11).approved


def test_rejections_do_not_count_toward_the_rate() -> None:
    risk = engine(Limits(max_orders_per_minute=1, max_order_qty=10))
    states, ledger = TradingStates(), Ledger()
    assert not risk.check(intent(quantity=50), ledger, states, NOW).approved
    assert risk.check(intent(quantity=5), ledger, states, NOW).approved


def test_halted_refuses_everything() -> None:
    states = TradingStates()
    states.set_strategy("alpha", TradingState.HALTED)
    d = engine().check(intent(), Ledger(), states, NOW)
    assert d.code == "halted" and "HALTED" in d.reason


def test_global_halt_refuses_every_strategy() -> None:
    states = TradingStates()
    states.set_global(TradingState.HALTED)
    assert engine().check(intent(strategy="beta"), Ledger(), states, NOW).code == "halted"


@pytest.mark.parametrize(("side", "qty", "approved"), [
    ("SELL", 50, True), ("SELL", 100, True), ("SELL", 150, False), ("BUY", 1, False)])
def test_reducing_allows_only_orders_that_shrink_the_position(
        side: str, qty: float, approved: bool) -> None:
    ledger = Ledger()
    ledger.apply_execution(fill("BOT", 100, 10))
    states = TradingStates()
    states.set_strategy("alpha", TradingState.REDUCING)
    d = engine().check(intent(side, qty), ledger, states, NOW)
    assert d.approved is approved
    if not approved:
        assert d.code == "reducing"


def test_instrument_reducing_flag_applies_to_that_contract_only() -> None:
    states = TradingStates()
    states.set_instrument_reducing(265598, "break")
    risk = engine()
    assert risk.check(intent(), Ledger(), states, NOW).code == "reducing"
    assert risk.check(intent(con_id=9), Ledger(), states, NOW).approved


def test_set_limits_at_runtime() -> None:
    risk = engine()
    risk.set_limits("alpha", Limits(max_order_qty=1))
    assert not risk.check(intent(quantity=2), Ledger(), TradingStates(), NOW).approved
    risk.set_limits(None, Limits(max_order_qty=1))
    assert risk.check(intent(strategy="beta", quantity=2), Ledger(), TradingStates(),
                      NOW).reason == "max_order_qty: 2 > limit 1 (account)"


def test_limits_mapping_round_trip_and_validation() -> None:
    lim = Limits.from_mapping({"max_order_qty": 100, "max_position": None})
    assert Limits.from_mapping(lim.to_mapping()) == lim
    with pytest.raises(ValueError, match="unknown"):
        Limits.from_mapping({"max_qty": 1})
    with pytest.raises(ValueError):
        Limits.from_mapping({"max_order_qty": -1})


def test_a_refusal_names_whose_halt_or_reduction_it_is() -> None:
    states = TradingStates()
    states.set_global(TradingState.HALTED)
    d = engine().check(intent(), Ledger(), states, NOW)
    assert not d.approved and d.reason == "trading HALTED for the account"
    states.set_global(TradingState.ACTIVE)
    states.set_strategy("alpha", TradingState.HALTED)
    assert engine().check(intent(), Ledger(), states, NOW).reason == \
        "trading HALTED for strategy alpha"
    states.set_strategy("alpha", TradingState.ACTIVE)
    states.set_instrument_reducing(intent().con_id, "break: ledger 10 != account 0")
    reason = engine().check(intent(), Ledger(), states, NOW).reason
    assert reason.startswith(f"trading REDUCING for con_id {intent().con_id} (break: ledger")
