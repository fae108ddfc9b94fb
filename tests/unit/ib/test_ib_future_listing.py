"""Futures are asked of IB the way a Gateway lists them: the mini VIX under VXM, VX under VIX."""

from __future__ import annotations

import pytest

from ats.ib import adapter
from ats.ib.parsing import from_contract, future_chain_query, to_contract
from ats.sdk.instrument import Future


@pytest.mark.parametrize(("sdk", "symbol", "klass", "multiplier"), [
    ("VXM", "VXM", "VXM", "100"), ("VX", "VIX", "VX", "1000")])
def test_a_vix_future_is_asked_under_the_symbol_ib_lists_it_by(
        sdk: str, symbol: str, klass: str, multiplier: str) -> None:
    c = to_contract(Future(sdk, "20261216"))
    assert (c.symbol, c.tradingClass, c.multiplier, c.exchange) == (symbol, klass, multiplier,
                                                                    "CFE")
    chain = future_chain_query(sdk)
    assert (chain.symbol, chain.tradingClass) == (symbol, klass)


@pytest.mark.parametrize(("symbol", "klass", "sdk"), [("VXM", "VXM", "VXM"), ("VIX", "VX", "VX")])
def test_an_ib_future_comes_back_under_its_trading_class(symbol: str, klass: str,
                                                        sdk: str) -> None:
    c = adapter.Contract(secType="FUT", symbol=symbol, tradingClass=klass, exchange="CFE",
                         multiplier="100", lastTradeDateOrContractMonth="20261216")
    inst = from_contract(c)
    assert (inst.symbol, inst.expiry) == (sdk, "20261216")
