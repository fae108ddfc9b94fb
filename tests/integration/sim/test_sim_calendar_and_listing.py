"""ib_async against a simulator pinned on a Saturday: IB's session calendar for history, and
the VIX futures listed as IB lists them (VX under VIX, VXM under VXM, by localSymbol too)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from ib_async import IB, Contract, Future, Stock

from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(60)

SATURDAY = "2026-11-21T12:00:00+00:00"  #: after a full Friday session (2026-11-20)
_ids = itertools.count(300)


@pytest.fixture(scope="module")
def ib() -> Iterator[IB]:
    with SimProcess(seed=7, start=SATURDAY) as sim:
        client = IB()
        client.connect(sim.host, sim.port, clientId=next(_ids), timeout=10)
        yield client
        client.disconnect()


def test_one_day_of_rth_hourly_bars_on_a_saturday_is_fridays_session(ib: IB) -> None:
    [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    bars = ib.reqHistoricalData(spy, "", "1 D", "1 hour", "TRADES", True, formatDate=2)
    starts = [b.date.astimezone(dt.UTC) for b in bars]
    assert [t.strftime("%a %H:%M") for t in starts] == [
        "Fri 14:30", "Fri 15:00", "Fri 16:00", "Fri 17:00", "Fri 18:00", "Fri 19:00",
        "Fri 20:00"]  # 09:30 to 16:00 New York, each bar stamped with its start
    assert all(b.volume > 0 for b in bars)


def test_daily_bars_asked_on_a_saturday_are_dated_by_session(ib: IB) -> None:
    [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    bars = ib.reqHistoricalData(spy, "", "2 D", "1 day", "TRADES", True)
    assert [b.date for b in bars] == [dt.date(2026, 11, 19), dt.date(2026, 11, 20)]


def test_the_mini_vix_future_qualifies_by_its_own_symbol(ib: IB) -> None:
    [vxm] = ib.qualifyContracts(Future("VXM", "202612", "CFE"))
    assert (vxm.symbol, vxm.tradingClass, vxm.multiplier) == ("VXM", "VXM", "100")
    assert vxm.localSymbol == "VXMZ6" and vxm.conId
    details = ib.reqContractDetails(Future("VXM", exchange="CFE"))
    assert len(details) == 8 and {d.contract.symbol for d in details} == {"VXM"}


def test_the_full_size_vix_future_is_listed_under_vix_with_trading_class_vx(ib: IB) -> None:
    details = ib.reqContractDetails(Future("VIX", exchange="CFE"))
    assert {(d.contract.tradingClass, d.contract.multiplier) for d in details} == {("VX", "1000")}
    assert not ib.reqContractDetails(Future("VIX", exchange="CFE", tradingClass="VXM"))


@pytest.mark.parametrize(("local", "symbol", "klass"), [("VXZ6", "VIX", "VX"),
                                                        ("VXMZ6", "VXM", "VXM")])
def test_a_future_qualifies_by_local_symbol(ib: IB, local: str, symbol: str,
                                            klass: str) -> None:
    contract = Contract(secType="FUT", localSymbol=local, exchange="CFE")
    [q] = ib.qualifyContracts(contract)
    assert (q.symbol, q.tradingClass, q.lastTradeDateOrContractMonth) == (symbol, klass,
                                                                           "20261216")
