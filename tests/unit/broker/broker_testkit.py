"""Stub factories for the broker core tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from ats.broker.model import CommissionReport, Execution, OrderIntent

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
_ids = itertools.count(1)


def exec_id(n: int, correction: int = 1) -> str:
    return f"0000e0d5.{n:08x}.01.{correction:02x}"


def fill(
    side: str,
    shares: float,
    price: float,
    *,
    n: int | None = None,
    correction: int = 1,
    ref: str = "ats:alpha:1",
    client_id: int = 11,
    con_id: int = 265598,
    symbol: str = "AAPL",
    sec_type: str = "STK",
    multiplier: float = 1.0,
    perm_id: int = 1000,
) -> Execution:
    n = next(_ids) if n is None else n
    return Execution(
        exec_id=exec_id(n, correction), perm_id=perm_id, order_id=n, client_id=client_id,
        order_ref=ref, account="DU123", con_id=con_id, symbol=symbol, sec_type=sec_type,
        currency="USD", multiplier=multiplier, side=side, shares=shares, price=price,
        time=T0 + timedelta(seconds=n),
    )


def commission(e: Execution | str, amount: float) -> CommissionReport:
    eid = e if isinstance(e, str) else e.exec_id
    return CommissionReport(exec_id=eid, commission=amount, currency="USD", realized_pnl=None)


def intent(
    side: str = "BUY",
    quantity: float = 10,
    *,
    strategy: str = "alpha",
    intent_id: int = 1,
    con_id: int = 265598,
    ref_price: float = 100.0,
    multiplier: float = 1.0,
) -> OrderIntent:
    return OrderIntent(
        intent_id=intent_id, strategy=strategy, con_id=con_id, symbol="AAPL", sec_type="STK",
        side=side, quantity=quantity, order_type="LMT", limit_price=ref_price, stop_price=None,
        tif="DAY", multiplier=multiplier, ref_price=ref_price, created=0.0,
    )
