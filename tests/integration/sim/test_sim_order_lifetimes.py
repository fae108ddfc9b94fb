"""Order lifetimes against the real simulator with the unmodified ib_async client: outsideRth
in matching, DAY orders expiring at the close as a Gateway expires them, and GTC orders that
survive a restart of the simulator and are reported again to the client that placed them."""

from __future__ import annotations

from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, MarketOrder, StartupFetch, Stock

from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(90)

SPY_CON_ID = 756733
BEFORE_OPEN = "2026-11-18T14:29:57+00:00"  #: three seconds before Wednesday's open
BEFORE_CLOSE = "2026-11-18T20:59:30+00:00"  #: thirty seconds before Wednesday's close


def _wait(ib: IB, cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    waited = 0.0
    while not cond() and waited < timeout:
        ib.sleep(0.05)
        waited += 0.05
    return bool(cond())


def test_an_order_without_outside_rth_waits_for_the_open_one_with_it_does_not() -> None:
    with SimProcess(seed=4, start=BEFORE_OPEN) as sim:
        ib = IB()
        ib.connect(sim.host, sim.port, clientId=1, timeout=10)
        try:
            spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
            ib.qualifyContracts(spy)
            regular = ib.placeOrder(spy, MarketOrder("BUY", 1))
            extended = ib.placeOrder(spy, MarketOrder("BUY", 1, outsideRth=True))
            assert _wait(ib, lambda: extended.orderStatus.status == "Filled", 2.0)
            assert regular.orderStatus.status == "Submitted"
            assert _wait(ib, lambda: regular.orderStatus.status == "Filled")  # at the open
            assert regular.fills[0].time >= extended.fills[0].time
        finally:
            ib.disconnect()


def test_a_day_order_expires_at_the_close_and_a_gtc_order_survives_a_restart(
        tmp_path: Path) -> None:
    with SimProcess(seed=4, speed=10.0, start=BEFORE_CLOSE,
                    state_file=tmp_path / "sim.json") as sim:
        ib = IB()
        ib.connect(sim.host, sim.port, clientId=3, timeout=10)
        spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
        ib.qualifyContracts(spy)
        errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
        day = ib.placeOrder(spy, LimitOrder("BUY", 1, 1.0, tif="DAY"))
        gtc = ib.placeOrder(spy, LimitOrder("BUY", 1, 1.0, tif="GTC", orderRef="keep"))
        assert _wait(ib, lambda: day.orderStatus.status == gtc.orderStatus.status == "Submitted")
        assert _wait(ib, lambda: day.orderStatus.status == "Cancelled")  # 21:00 UTC, 16:00 NY
        assert _wait(ib, lambda: (day.order.orderId, 202) in errors)
        assert gtc.orderStatus.status == "Submitted"
        ib.disconnect()
        sim.restart()
        ib = IB()
        # No reqOpenOrders at connect: the order can only come as a Gateway reports it,
        # unasked, to the client that placed it.
        ib.connect(sim.host, sim.port, clientId=3, timeout=10,
                   fetchFields=StartupFetch.POSITIONS | StartupFetch.EXECUTIONS)
        try:
            assert _wait(ib, lambda: bool(ib.openTrades()), 2.0)
            kept = [t for t in ib.openTrades() if t.order.orderId == gtc.order.orderId]
            assert [(t.order.orderRef, t.order.tif, t.orderStatus.status) for t in kept] == \
                [("keep", "GTC", "Submitted")]
            assert not any(t.order.orderId == day.order.orderId for t in ib.openTrades())
            ib.cancelOrder(kept[0].order)
            assert _wait(ib, lambda: kept[0].orderStatus.status == "Cancelled")
        finally:
            ib.disconnect()
