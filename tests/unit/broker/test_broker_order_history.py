"""A restarted broker shows the orders it knew before, and the venue's reports at its (re)connect
update them in place: no duplicate, and nothing the venue leaves out is lost."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from broker_testkit import broker_in

pytestmark = pytest.mark.timeout(60)

UNSET_DOUBLE = sys.float_info.max  #: what the IB client library leaves in an unset field


def trade(n: int, status: str, filled: float = 0.0, avg: float = 0.0, *, client_id: int = 11,
          filled_quantity: float = UNSET_DOUBLE, ref: str | None = None) -> SimpleNamespace:
    """An order as the master connection reports it (the attributes the broker reads)."""
    order = SimpleNamespace(orderRef=f"ats:alpha:{n}" if ref is None else ref,
                            permId=1000 + n, orderId=n, clientId=client_id, action="BUY",
                            totalQuantity=10.0, orderType="MKT", filledQuantity=filled_quantity)
    return SimpleNamespace(order=order, contract=SimpleNamespace(symbol="SPY", conId=756733),
                           orderStatus=SimpleNamespace(status=status, filled=filled,
                                                       avgFillPrice=avg))


def by_ref(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    refs = [r["order_ref"] or f"perm{r['perm_id']}" for r in rows]
    assert len(refs) == len(set(refs)), f"an order shown twice: {refs}"
    return dict(zip(refs, rows, strict=True))


def test_orders_survive_a_restart_and_the_venue_updates_them_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    with broker_in(home, monkeypatch) as broker:
        broker._on_order(trade(1, "Filled", 10.0, 501.25))
        broker._on_order(trade(2, "Submitted", 4.0, 499.5))
        broker._on_order(trade(3, "Cancelled", 2.0, 498.0))
        broker._on_order(trade(9, "Filled", 5.0, 502.0, client_id=0, ref=""))  # from TWS
        before = by_ref(broker.m_orders({"all": True}))
        broker.order_store.save(broker.orders.state)  # what a clean stop does

    with broker_in(home, monkeypatch) as broker:
        assert by_ref(broker.m_orders({"all": True})) == before  # before any venue report
        # at connect: completed orders carry no average price nor clientId, and their fills
        # only in filledQuantity; an open order's openOrder comes before its orderStatus
        broker._on_order(trade(1, "Filled", client_id=0, filled_quantity=10.0))
        broker._on_order(trade(9, "Filled", client_id=0, ref="", filled_quantity=5.0))
        broker._on_order(trade(2, "Submitted"))
        assert by_ref(broker.m_orders({"all": True})) == before
        broker._on_order(trade(2, "Filled", 10.0, 500.4))  # its orderStatus: the venue wins
        after = by_ref(broker.m_orders({"all": True}))
        # order 3 is no longer reported by the venue: it keeps what was stored
        assert {k: v for k, v in after.items() if k != "ats:alpha:2"} == \
            {k: v for k, v in before.items() if k != "ats:alpha:2"}
        assert after["ats:alpha:2"] == {**before["ats:alpha:2"], "status": "Filled",
                                        "filled": 10.0, "avg_price": 500.4}
        assert after["ats:alpha:1"]["client_id"] == 11
        assert after["ats:alpha:1"]["avg_price"] == 501.25
        assert [r["order_ref"] for r in broker.m_orders({})] == []
