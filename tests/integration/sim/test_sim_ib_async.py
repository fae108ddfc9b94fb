"""The unmodified ib_async client against the real simulator over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from ib_async import (
    IB,
    Contract,
    ExecutionFilter,
    Future,
    Index,
    LimitOrder,
    MarketOrder,
    Stock,
    StopOrder,
    util,
)
from pinned import SESSION

from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(60)


def _wait(ib: IB, cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    waited = 0.0
    while not cond() and waited < timeout:
        ib.sleep(0.05)
        waited += 0.05
    return bool(cond())


def test_connect_reports_account_and_sim_time(ib: IB) -> None:
    assert ib.isConnected()
    assert ib.managedAccounts() == ["DU0000001"]
    assert ib.reqCurrentTime().year >= 2020


def test_qualify_fills_con_ids_for_stocks_indices_and_futures(ib: IB) -> None:
    spy, sap, vix = Stock("SPY", "SMART", "USD"), Stock("SAP", "IBIS", "EUR"), Index("VIX", "CBOE")
    ib.qualifyContracts(spy, sap, vix)
    assert spy.conId == 756733 and spy.primaryExchange == "ARCA"
    assert sap.conId and sap.currency == "EUR"
    assert vix.conId and vix.secType == "IND"
    futs = ib.reqContractDetails(Future("VXM", exchange="CFE"))
    assert len(futs) == 8
    assert all(cd.contract.multiplier == "100" for cd in futs)


def test_unknown_contract_gets_error_200(ib: IB) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    assert not any(ib.qualifyContracts(Stock("NOPE", "SMART", "USD")))
    assert 200 in errors


def test_streaming_and_snapshot_ticks(ib: IB) -> None:
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    ticker = ib.reqMktData(aapl)
    assert _wait(ib, lambda: ticker.bid > 0 and ticker.ask > 0 and ticker.last > 0)
    assert ticker.ask > ticker.bid and ticker.bidSize > 0 and ticker.volume > 0
    n = len(ticker.ticks)
    ib.sleep(1.0)
    ib.cancelMktData(aapl)
    snap = ib.reqMktData(aapl, snapshot=True)
    assert _wait(ib, lambda: snap.bid > 0 and snap.ask > 0)
    assert n > 0


def test_historical_bars_daily_and_intraday_into_pandas(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    daily = util.df(ib.reqHistoricalData(spy, "", "10 Y", "1 day", "ADJUSTED_LAST", True))
    assert len(daily) > 2400
    assert (daily.high >= daily.low).all() and (daily.volume > 0).all()
    intraday = util.df(ib.reqHistoricalData(spy, "", "2 D", "5 mins", "MIDPOINT", False,
                                            formatDate=2))
    # two sessions' extended hours: Tuesday's from 04:00 New York, Wednesday's until now
    assert intraday.date.iloc[0] == pd.Timestamp("2026-11-17 09:00", tz="UTC")
    assert len(intraday) > 250
    assert intraday.date.iloc[-1].tzinfo is not None
    again = util.df(ib.reqHistoricalData(spy, "", "10 Y", "1 day", "ADJUSTED_LAST", True))
    assert daily.close.iloc[:-1].equals(again.close.iloc[:-1])


def test_market_order_fills_and_account_arithmetic_holds(ib: IB) -> None:
    start_cash = float(next(v.value for v in ib.accountValues()
                            if v.tag == "TotalCashValue" and v.currency == "USD"))
    ko = Stock("KO", "SMART", "USD")
    ib.qualifyContracts(ko)
    t1 = ib.placeOrder(ko, MarketOrder("BUY", 300, orderRef="arith"))
    assert _wait(ib, lambda: t1.isDone())
    t2 = ib.placeOrder(ko, MarketOrder("SELL", 100, orderRef="arith"))
    assert _wait(ib, lambda: t2.isDone() and len(t2.fills) > 0)
    ib.sleep(0.3)
    fills = t1.fills + t2.fills
    signed = sum((f.execution.shares if f.execution.side == "BOT" else -f.execution.shares)
                 * f.execution.price for f in fills)
    commissions = sum(f.commissionReport.commission for f in fills)
    assert all(f.execution.orderRef == "arith" for f in fills)
    assert _wait(ib, lambda: any(v.tag == "TotalCashValue" and
                                 abs(float(v.value) - (start_cash - signed - commissions)) < 0.011
                                 for v in ib.accountValues()))
    pos = [p for p in ib.positions() if p.contract.conId == ko.conId]
    assert pos and pos[0].position == 200
    realized = t2.fills[0].commissionReport.realizedPNL
    avg_cost = (sum(f.execution.shares * f.execution.price for f in t1.fills)
                + sum(f.commissionReport.commission for f in t1.fills)) / 300
    expected = sum(f.execution.shares * (f.execution.price - avg_cost)
                   - f.commissionReport.commission for f in t2.fills)
    assert realized == pytest.approx(expected, abs=0.01)
    assert pos[0].avgCost == pytest.approx(avg_cost, abs=1e-4)


def test_limit_order_rests_is_modified_and_cancelled(ib: IB) -> None:
    msft = Stock("MSFT", "SMART", "USD")
    ib.qualifyContracts(msft)
    [ticker] = ib.reqTickers(msft)
    order = LimitOrder("BUY", 10, round(ticker.bid * 0.8, 2), orderRef="rest")
    trade = ib.placeOrder(msft, order)
    assert _wait(ib, lambda: trade.orderStatus.status == "Submitted")
    order.lmtPrice = round(ticker.bid * 0.7, 2)
    ib.placeOrder(msft, order)
    assert _wait(ib, lambda: any(o.lmtPrice == order.lmtPrice for o in ib.openOrders()))
    ib.cancelOrder(order)
    assert _wait(ib, lambda: trade.orderStatus.status == "Cancelled")
    done = [t for t in ib.reqCompletedOrders(False) if t.order.permId == trade.order.permId]
    assert done and done[0].order.orderRef == "rest"


def test_cancel_unknown_order_gets_10147(ib: IB) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    ib.client.cancelOrder(987654)
    assert _wait(ib, lambda: 10147 in errors)


def test_stop_order_triggers(ib: IB) -> None:
    xom = Stock("XOM", "SMART", "USD")
    ib.qualifyContracts(xom)
    [ticker] = ib.reqTickers(xom)
    trade = ib.placeOrder(xom, StopOrder("BUY", 5, round(ticker.last * 0.5, 2)))
    assert _wait(ib, lambda: trade.orderStatus.status == "Filled")


def test_big_order_fills_partially_over_time(ib: IB) -> None:
    nvda = Stock("NVDA", "SMART", "USD")
    ib.qualifyContracts(nvda)
    trade = ib.placeOrder(nvda, MarketOrder("BUY", 6000))
    assert _wait(ib, lambda: trade.isDone(), timeout=30)
    assert len(trade.fills) > 1
    assert sum(f.execution.shares for f in trade.fills) == 6000
    ib.placeOrder(nvda, MarketOrder("SELL", 6000))


def test_reused_order_id_gets_103(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 1))
    assert _wait(ib, lambda: trade.isDone())
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    ib.client.placeOrder(trade.order.orderId, spy, MarketOrder("BUY", 1))
    assert _wait(ib, lambda: 103 in errors)


def test_held_acks_keep_an_order_in_flight_until_released(sim: SimProcess, ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    sim.admin.call("hold_acks")
    try:
        trade = ib.placeOrder(spy, MarketOrder("BUY", 1))
        assert _wait(ib, lambda: sim.admin.call("status")["held_acks"] == 1)
        assert trade.orderStatus.status == "PendingSubmit"
    finally:
        assert sim.admin.call("release_acks")["released"] == 1
    assert _wait(ib, lambda: trade.orderStatus.status == "Filled")


def test_rejection_of_bad_quantity_is_201(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 0))
    assert _wait(ib, lambda: trade.orderStatus.status == "Cancelled")
    assert any(e.errorCode == 201 for e in trade.log)


def test_master_client_sees_other_clients_fills_and_executions_filter(
        sim: SimProcess, new_client_id: Callable[[], int]) -> None:
    master, a, b = IB(), IB(), IB()
    master.connect(sim.host, sim.port, clientId=0)
    a.connect(sim.host, sim.port, clientId=new_client_id())
    b.connect(sim.host, sim.port, clientId=new_client_id())
    try:
        pep = Stock("PEP", "SMART", "USD")
        a.qualifyContracts(pep)
        b.qualifyContracts(pep)
        ta = a.placeOrder(pep, MarketOrder("BUY", 10, orderRef="A"))
        tb = b.placeOrder(pep, MarketOrder("BUY", 20, orderRef="B"))
        assert _wait(a, lambda: ta.isDone()) and _wait(b, lambda: tb.isDone())
        assert _wait(master, lambda: {f.execution.orderRef for f in master.fills()} >= {"A", "B"})
        only_a = a.reqExecutions(ExecutionFilter(clientId=a.client.clientId))
        assert only_a and all(f.execution.clientId == a.client.clientId for f in only_a)
        assert not any(f.execution.orderRef == "B" for f in only_a)
        sells = b.reqExecutions(ExecutionFilter(symbol="PEP", side="SELL"))
        assert all(f.execution.side == "SLD" for f in sells)
    finally:
        for c in (master, a, b):
            c.disconnect()


def test_an_execution_correction_reaches_the_placing_and_the_master_client(
        sim: SimProcess, new_client_id: Callable[[], int]) -> None:
    master, a = IB(), IB()
    master.connect(sim.host, sim.port, clientId=0)
    a.connect(sim.host, sim.port, clientId=new_client_id())
    try:
        ko = Stock("KO", "SMART", "USD")
        a.qualifyContracts(ko)
        trade = a.placeOrder(ko, MarketOrder("BUY", 7, orderRef="corrected"))
        assert _wait(a, lambda: trade.isDone() and bool(trade.fills))
        old = trade.fills[-1].execution
        reports: dict[str, list[Any]] = {"a": [], "master": []}
        a.commissionReportEvent += lambda t, f, r: reports["a"].append(f)
        master.commissionReportEvent += lambda t, f, r: reports["master"].append(f)
        new = sim.admin.call("correct_execution", exec_id=old.execId, price=old.price + 0.5,
                             shares=5)["execution"]
        assert new["exec_id"] == old.execId[:-2] + "02"
        for name, client in (("a", a), ("master", master)):
            assert _wait(client, lambda n=name: any(
                f.execution.execId == new["exec_id"] for f in reports[n]))
            [f] = [f for f in reports[name] if f.execution.execId == new["exec_id"]]
            assert (f.execution.shares, f.execution.price) == (5, old.price + 0.5)
            assert f.commissionReport.commission == pytest.approx(new["commission"])
        ids = [f.execution.execId for f in a.reqExecutions(
            ExecutionFilter(clientId=a.client.clientId, symbol="KO"))]
        assert ids[-2:] == [old.execId, new["exec_id"]]  # every version, as IB gives them
        latest = {e["exec_id"] for e in sim.admin.call("executions")["executions"]}
        assert new["exec_id"] in latest and old.execId not in latest
    finally:
        for c in (master, a):
            c.disconnect()


def test_client_id_in_use_gets_326(sim: SimProcess, ib: IB) -> None:
    other = IB()
    errors: list[int] = []
    other.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    with pytest.raises((ConnectionError, TimeoutError, asyncio.TimeoutError)):
        other.connect(sim.host, sim.port, clientId=ib.client.clientId, timeout=3)
    assert 326 in errors
    other.disconnect()
    assert ib.isConnected()


def test_pacing_more_than_max_rate_gets_error_100(ib: IB) -> None:
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    ib.client.MaxRequests = 0
    for _ in range(120):
        ib.client.reqCurrentTime()
    assert _wait(ib, lambda: 100 in errors)
    ib.client.MaxRequests = 45
    ib.sleep(1.1)
    assert ib.reqCurrentTime() is not None


def test_malformed_frame_does_not_hurt_another_client(
        sim: SimProcess, ib: IB, new_client_id: Callable[[], int]) -> None:
    with socket.create_connection((sim.host, sim.port)) as raw:
        raw.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..176")
        raw.recv(100)
        body = b"71\x002\x00" + str(new_client_id()).encode() + b"\x00\x00"
        raw.sendall(struct.pack(">I", len(body)) + body)
        for junk in (b"999\x00x\x00", b"abc\x00", b"9\x008\x00notanint\x00"):
            raw.sendall(struct.pack(">I", len(junk)) + junk)
        raw.sendall(struct.pack(">I", 0x7FFFFFFF) + b"garbage")
    assert ib.reqCurrentTime() is not None
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    [t] = ib.reqTickers(spy)
    assert t.bid > 0


def test_outage_then_restore_and_reconnect_after_drop(sim: SimProcess, ib: IB) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    sim.admin.call("outage", seconds=0.5, data_lost=True)
    assert _wait(ib, lambda: 1100 in codes and 1101 in codes)
    sim.admin.call("farm_disconnect", seconds=0.3)
    assert _wait(ib, lambda: 2103 in codes and 2104 in codes)
    cid = ib.client.clientId
    sim.admin.call("drop_client", client_id=cid)
    with contextlib.suppress(ConnectionError):
        _wait(ib, lambda: not ib.isConnected())
    assert not ib.isConnected()
    ib.connect(sim.host, sim.port, clientId=cid)
    assert ib.reqCurrentTime() is not None


def test_reject_next_order_by_admin(sim: SimProcess, ib: IB) -> None:
    sim.admin.call("reject_next_order", reason="test says no")
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 1))
    assert _wait(ib, lambda: trade.orderStatus.status == "Cancelled")
    assert any("test says no" in e.message for e in trade.log)


def test_restart_with_state_keeps_orders_positions_and_cash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "sim.json"
    with SimProcess(seed=3, state_file=state, start=SESSION) as sim:
        ib = IB()
        ib.connect(sim.host, sim.port, clientId=5)
        wmt = Stock("WMT", "SMART", "USD")
        ib.qualifyContracts(wmt)
        trade = ib.placeOrder(wmt, MarketOrder("BUY", 50, orderRef="persist"))
        assert _wait(ib, lambda: trade.isDone())
        resting = ib.placeOrder(wmt, LimitOrder("BUY", 5, 1.0))
        assert _wait(ib, lambda: resting.orderStatus.status == "Submitted")
        assert _wait(ib, lambda: any(v.tag == "TotalCashValue" and v.value != "1000000.00"
                                     for v in ib.accountValues()))
        cash = next(v.value for v in ib.accountValues() if v.tag == "TotalCashValue")
        ib.disconnect()
        sim.restart()
        ib = IB()
        ib.connect(sim.host, sim.port, clientId=5)
        try:
            assert [p.position for p in ib.positions() if p.contract.conId == wmt.conId] == [50]
            assert any(t.order.orderId == resting.order.orderId for t in ib.openTrades())
            assert next(v.value for v in ib.accountValues() if v.tag == "TotalCashValue") == cash
            assert any(f.execution.orderRef == "persist" for f in ib.fills())
            assert ib.client.getReqId() > resting.order.orderId
            assert sim.admin.call("executions")["executions"][0]["order_ref"] == "persist"
        finally:
            ib.disconnect()


def test_pnl_stream_agrees_with_the_fills_and_the_account_summary() -> None:
    with SimProcess(seed=5, start=SESSION) as sim:  # an account of its own: P&L starts at 0
        ib = IB()
        ib.connect(sim.host, sim.port, clientId=1)
        try:
            acct = ib.managedAccounts()[0]
            pnl = ib.reqPnL(acct)
            assert _wait(ib, lambda: pnl.dailyPnL == 0.0)
            ko = Stock("KO", "SMART", "USD")
            ib.qualifyContracts(ko)
            buy = ib.placeOrder(ko, MarketOrder("BUY", 100))
            assert _wait(ib, lambda: buy.isDone())
            sell = ib.placeOrder(ko, MarketOrder("SELL", 40))
            assert _wait(ib, lambda: sell.isDone() and all(f.commissionReport.commission
                                                           for f in sell.fills))
            realized = sum(f.commissionReport.realizedPNL for f in sell.fills)
            assert realized != 0.0
            assert _wait(ib, lambda: pnl.realizedPnL == pytest.approx(realized, abs=0.011))
            # one update, one mark: the day's change in net liquidation is realized + unrealized
            assert pnl.unrealizedPnL != 0.0
            assert pnl.dailyPnL == pytest.approx(pnl.realizedPnL + pnl.unrealizedPnL, abs=0.021)
            summary = {v.tag: float(v.value) for v in ib.accountSummary(acct)
                       if v.tag in ("NetLiquidation", "TotalCashValue", "GrossPositionValue")}
            assert summary["NetLiquidation"] == pytest.approx(
                summary["TotalCashValue"] + summary["GrossPositionValue"], abs=0.011)
        finally:
            ib.disconnect()


def test_real_time_bars_and_keep_up_to_date(sim: SimProcess) -> None:
    with SimProcess(seed=2, speed=20.0, start=SESSION) as fast:
        ib = IB()
        ib.connect(fast.host, fast.port, clientId=1)
        try:
            spy = Contract(conId=756733, exchange="SMART")
            ib.qualifyContracts(spy)
            rt = ib.reqRealTimeBars(spy, 5, "TRADES", False)
            hist = ib.reqHistoricalData(spy, "", "1800 S", "5 secs", "TRADES", False,
                                        keepUpToDate=True)
            n = len(hist)
            assert _wait(ib, lambda: len(rt) >= 2 and len(hist) > n)
        finally:
            ib.disconnect()
