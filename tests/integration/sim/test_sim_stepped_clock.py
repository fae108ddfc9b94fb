"""A stepped simulator clock (`--clock stepped`): time stands still until the admin command
`advance` moves it, and every bar completed on the way reaches the client, in time order,
before the reply. Real simulator process, real ib_async client."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from ib_async import IB, MarketOrder, Stock
from pinned import SESSION

from ats.sim.admin import AdminErrno, AdminError
from ats.sim.market import Market
from ats.sim.process import SimProcess
from ats.sim.universe import Universe

SEED = 11
START = dt.datetime.fromisoformat(SESSION)
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(seed=SEED, start=SESSION, extra_args=["--clock", "stepped"]) as proc:
        yield proc


@pytest.fixture
def ib(sim: SimProcess) -> Iterator[IB]:
    client = IB()
    client.connect(sim.host, sim.port, clientId=next(_ids), timeout=10)
    yield client
    client.disconnect()


def sim_now(sim: SimProcess) -> dt.datetime:
    return dt.datetime.fromisoformat(sim.admin.call("status")["sim_time"])


def test_time_stands_still_until_advanced(sim: SimProcess, ib: IB) -> None:
    before = ib.reqCurrentTime()
    ib.sleep(1.2)
    assert ib.reqCurrentTime() == before
    reply = sim.admin.call("advance", seconds=60)
    after = ib.reqCurrentTime()
    assert (after - before).total_seconds() == 60
    assert reply["sim_time"] == sim_now(sim).isoformat()
    assert sim.admin.call("status")["clock"] == "stepped"


def test_advance_delivers_every_bar_in_time_order_before_replying(sim: SimProcess,
                                                                   ib: IB) -> None:
    spy, xlk = Stock("SPY", "SMART", "USD"), Stock("XLK", "SMART", "USD")
    ib.qualifyContracts(spy, xlk)
    arrivals: list[tuple[dt.datetime, str]] = []
    subs = [ib.reqRealTimeBars(c, 5, "TRADES", False) for c in (spy, xlk)]
    for sub in subs:
        sub.updateEvent += lambda bars, new: arrivals.append((bars[-1].time, bars.contract.symbol))
    start = sim_now(sim)
    reply = sim.admin.call("advance", seconds=600)
    ib.reqCurrentTime()  # answered after every bar the advance sent
    assert reply["bars"] >= 240
    times = [t for t, _ in arrivals]
    assert times == sorted(times)
    for sub, symbol in zip(subs, ("SPY", "XLK"), strict=True):
        got = [(b.time.timestamp(), b.open_, b.high, b.low, b.close, b.volume) for b in sub]
        assert len(got) == 120, symbol
        universe = Universe()
        expected = Market(universe, SEED).intraday_bars(
            universe.by_symbol(symbol), start.timestamp(), start.timestamp() + 600, 5,
            "TRADES", complete_only=True)
        assert got == [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in expected]
        ib.cancelRealTimeBars(sub)


def test_a_weekend_passes_without_bars(sim: SimProcess, ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    friday_close = dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC)
    sim.admin.call("advance", to=friday_close.isoformat())
    sub = ib.reqRealTimeBars(spy, 5, "TRADES", True)  # regular hours only
    monday_open = dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)
    reply = sim.admin.call("advance", to=(monday_open + dt.timedelta(minutes=1)).isoformat())
    ib.reqCurrentTime()
    assert reply["bars"] == 12
    assert [b.time for b in sub] == [monday_open + dt.timedelta(seconds=5 * i)
                                     for i in range(12)]
    ib.cancelRealTimeBars(sub)


def test_a_market_order_fills_at_the_instant_the_clock_stands_at(sim: SimProcess,
                                                                 ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    now = sim_now(sim)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 10))
    while not trade.isDone():
        ib.sleep(0.05)
    assert trade.orderStatus.status == "Filled"
    assert trade.fills[0].execution.time == now
    assert sim_now(sim) == now


def test_advance_refuses_the_past_and_bad_arguments(sim: SimProcess) -> None:
    past = (sim_now(sim) - dt.timedelta(minutes=1)).isoformat()
    for args in ({"to": past}, {}, {"seconds": 0}, {"seconds": 5, "to": past}):
        with pytest.raises(AdminError) as err:
            sim.admin.call("advance", **args)
        assert err.value.errno == AdminErrno.BAD_ARGUMENTS, args


def test_advance_is_refused_by_a_running_clock() -> None:
    with SimProcess(seed=SEED, start=SESSION) as running, pytest.raises(AdminError) as err:
        running.admin.call("advance", seconds=60)
    assert err.value.errno == AdminErrno.NOT_STEPPED
