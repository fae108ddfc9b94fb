"""Conformance of the simulator with IB's official `ibapi` 9.81.1.post1 (run in its own venv).

Usage: python ibapi_conformance.py HOST PORT [MAX_VERSION]
MAX_VERSION lowers the range the client offers (default: ibapi's own 157), to prove the
layouts of older server versions; steps the client cannot send below a version are skipped.
Imports only ibapi and the standard library. Prints `ok: <step>` per step and exits non-zero
with `FAIL: <step>` naming the first failing one.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import ibapi.client
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

ACCOUNT_TAGS = "NetLiquidation,TotalCashValue,BuyingPower"


class Dropped(logging.Handler):
    """ibapi logs, then drops, a message whose field count does not match its signature."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != "ibapi.wrapper":  # the wrapper logs every error() it receives
            self.records.append(record.getMessage()[:300])


class App(EWrapper, EClient):  # type: ignore[misc]
    """Records every wrapper call as (name, args); the reader loop runs in a thread."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.cond = threading.Condition()
        self.loop_error: BaseException | None = None

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if callable(attr) and name in _RECORDED:
            def record(*args: Any) -> Any:
                with self.cond:
                    self.calls.append((name, args))
                    self.cond.notify_all()
                return attr(*args)
            return record
        return attr

    def run_loop(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # the reader loop died on a message it could not parse
            self.loop_error = exc

    def wait(self, pred: Callable[[list[tuple[str, tuple[Any, ...]]]], bool],
             timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        with self.cond:
            while not pred(self.calls):
                left = end - time.monotonic()
                if left <= 0 or self.loop_error is not None:
                    return False
                self.cond.wait(min(left, 0.2))
            return True

    def of(self, name: str, req_id: int | None = None) -> list[tuple[Any, ...]]:
        with self.cond:
            return [a for n, a in self.calls
                    if n == name and (req_id is None or (a and a[0] == req_id))]


_RECORDED = {
    "error", "nextValidId", "managedAccounts", "contractDetails", "contractDetailsEnd",
    "tickPrice", "tickSize", "historicalData", "historicalDataEnd", "orderStatus",
    "openOrder", "openOrderEnd", "execDetails", "execDetailsEnd", "commissionReport",
    "position", "positionEnd", "updateAccountValue", "updatePortfolio", "accountDownloadEnd",
    "accountSummary", "accountSummaryEnd", "completedOrder", "completedOrdersEnd",
    "currentTime", "realtimeBar", "securityDefinitionOptionParameterEnd", "symbolSamples",
    "tickByTickBidAsk", "tickByTickAllLast", "updateMktDepth", "updateMktDepthL2",
    "headTimestamp", "pnl",
}


def check(app: App, ok: bool, step: str) -> None:
    if app.loop_error is not None:
        print(f"FAIL: {step}: reader loop died: {app.loop_error!r}", file=sys.stderr)
        os._exit(1)  # ibapi's reader thread is not a daemon: sys.exit would wait for it
    if not ok:
        print(f"FAIL: {step}", file=sys.stderr)
        print("errors:", app.of("error")[-10:], file=sys.stderr)
        print("recent calls:", [(n, str(a)[:160]) for n, a in app.calls[-8:]],
              file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    print(f"ok: {step}", flush=True)


def stock(symbol: str) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def order(action: str, qty: float, kind: str, lmt: float | None = None,
          ref: str = "", aux: float | None = None) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType, o.orderRef = action, qty, kind, ref
    if lmt is not None:
        o.lmtPrice = lmt
    if aux is not None:
        o.auxPrice = aux
    o.eTradeOnly = False
    o.firmQuoteOnly = False
    if ibapi.client.MAX_CLIENT_VER < 111:
        o.cashQty = 0.0  # unset is truthy, and ibapi refuses it itself below CASH_QTY
    return o


def errors(app: App, req_id: int, code: int) -> bool:
    return any(a[0] == req_id and a[1] == code for a in app.of("error"))


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3:
        ibapi.client.MAX_CLIENT_VER = int(sys.argv[3])
    want = ibapi.client.MAX_CLIENT_VER
    dropped = Dropped()
    logging.getLogger().addHandler(dropped)
    app = App()
    app.connect(host, port, clientId=51)
    threading.Thread(target=app.run_loop, daemon=True).start()
    check(app, app.wait(lambda c: any(n == "nextValidId" for n, _ in c)
                        and any(n == "managedAccounts" for n, _ in c)), "connect")
    v = app.serverVersion()
    check(app, v == want, f"handshake negotiates {want} (got {v})")
    check(app, app.wait(lambda c: any(n == "error" and a[1] == 2104 for n, a in c)),
          "farm status arrives as error messages")
    account = app.of("managedAccounts")[0][0].split(",")[0]
    next_id = app.of("nextValidId")[-1][0]

    # ---- contracts
    app.reqContractDetails(1, stock("SPY"))
    check(app, app.wait(lambda c: bool(app.of("contractDetailsEnd", 1))), "contract details")
    cd = app.of("contractDetails", 1)[0][1]
    check(app, cd.contract.conId == 756733 and cd.minTick == 0.01
          and cd.contract.primaryExchange == "ARCA", "contract details fields")
    app.reqContractDetails(2, stock("NOSUCHSYM"))
    check(app, app.wait(lambda c: errors(app, 2, 200)), "unknown contract: error 200, own id")

    # ---- market data
    spy = stock("SPY")
    app.reqMktData(3, spy, "", False, False, [])
    check(app, app.wait(lambda c: {1, 2} <= {a[1] for a in app.of("tickPrice", 3)}),
          "streaming bid and ask")
    check(app, app.wait(lambda c: any(a[2] > 0 for a in app.of("tickSize", 3))),
          "tick sizes")
    bid = [a[2] for a in app.of("tickPrice", 3) if a[1] == 1][-1]
    app.cancelMktData(3)

    # ---- history
    app.reqHistoricalData(4, spy, "", "5 D", "1 day", "TRADES", 1, 1, False, [])
    check(app, app.wait(lambda c: bool(app.of("historicalDataEnd", 4))), "daily bars")
    bars = [a[1] for a in app.of("historicalData", 4)]
    check(app, len(bars) >= 4 and all(b.volume > 0 and b.close > 0 for b in bars),
          "daily bars with volumes")
    app.reqHistoricalData(5, spy, "", "1800 S", "1 min", "TRADES", 0, 2, False, [])
    check(app, app.wait(lambda c: bool(app.of("historicalDataEnd", 5))), "minute bars")
    check(app, any(a[1].volume > 0 for a in app.of("historicalData", 5)),
          "minute bars with volumes")
    app.reqHistoricalData(6, spy, "", "1 D", "1 hour", "MIDPOINT", 1, 1, False, [])
    check(app, app.wait(lambda c: bool(app.of("historicalDataEnd", 6))),
          "midpoint bars (volume -1)")

    # ---- orders, executions, positions
    app.placeOrder(next_id, spy, order("BUY", 10, "MKT", ref="ibapi-mkt"))
    check(app, app.wait(lambda c: any(a[0] == next_id and a[1] == "Filled"
                                      for a in app.of("orderStatus"))), "market order filled")
    check(app, app.wait(lambda c: any(a[2].orderId == next_id for a in app.of("execDetails"))
                        and bool(app.of("commissionReport"))), "fill and commission report")
    check(app, any(a[0] == next_id for a in app.of("openOrder")), "open order message")
    rest_id = next_id + 1
    app.placeOrder(rest_id, spy, order("BUY", 1, "LMT", round(bid * 0.5, 2)))
    check(app, app.wait(lambda c: any(a[0] == rest_id and a[1] == "Submitted"
                                      for a in app.of("orderStatus"))), "limit order rests")
    app.placeOrder(rest_id, spy, order("BUY", 1, "LMT", round(bid * 0.4, 2)))
    check(app, app.wait(lambda c: any(a[0] == rest_id and a[2].lmtPrice == round(bid * 0.4, 2)
                                      for a in app.of("openOrder"))), "limit order modified")
    app.cancelOrder(rest_id)
    check(app, app.wait(lambda c: any(a[0] == rest_id and a[1] == "Cancelled"
                                      for a in app.of("orderStatus"))), "cancel")
    check(app, app.wait(lambda c: errors(app, rest_id, 202)), "cancel confirmed by error 202")
    for offset, kind, lmt in ((2, "STP", None), (3, "STP LMT", round(bid * 1.02, 2))):
        app.placeOrder(rest_id + offset, spy, order("BUY", 2, kind, lmt, aux=round(bid * 0.5, 2)))
        check(app, app.wait(lambda c, oid=rest_id + offset: any(
            a[0] == oid and a[1] == "Filled" for a in app.of("orderStatus"))),
              f"{kind} order triggers and fills")
    what_if_id = rest_id + 4
    probe = order("BUY", 100, "MKT")
    probe.whatIf = True
    app.placeOrder(what_if_id, spy, probe)
    check(app, app.wait(lambda c: any(a[0] == what_if_id for a in app.of("openOrder"))),
          "what-if answer")
    _, _, answered, state = next(a for a in app.of("openOrder") if a[0] == what_if_id)
    check(app, answered.whatIf and float(state.initMarginAfter) > 0 and state.commission > 0,
          "what-if margin and commission")
    time.sleep(0.3)
    check(app, not any(a[0] == what_if_id for a in app.of("orderStatus")),
          "what-if order never executes")
    parent_id = what_if_id + 1
    legs = [order("BUY", 3, "LMT", round(bid * 0.5, 2)), order("SELL", 3, "LMT", round(bid * 2, 2)),
            order("SELL", 3, "STP", aux=round(bid * 0.3, 2))]
    for i, leg in enumerate(legs):
        leg.parentId = parent_id if i else 0
        leg.transmit = i == len(legs) - 1
        app.placeOrder(parent_id + i, spy, leg)
    check(app, app.wait(lambda c: {(a[0], a[1], a[6]) for a in app.of("orderStatus")} >= {
        (parent_id, "Submitted", 0), (parent_id + 1, "PreSubmitted", parent_id),
        (parent_id + 2, "PreSubmitted", parent_id)}), "bracket: children wait for the parent")
    app.cancelOrder(parent_id)
    check(app, app.wait(lambda c: {a[0] for a in app.of("orderStatus") if a[1] == "Cancelled"}
                        >= {parent_id, parent_id + 1, parent_id + 2}),
          "bracket: cancelling the parent cancels the children")
    app.reqOpenOrders()
    check(app, app.wait(lambda c: bool(app.of("openOrderEnd"))), "open orders")
    flt = ExecutionFilter()
    flt.clientId = 51
    app.reqExecutions(7, flt)
    check(app, app.wait(lambda c: bool(app.of("execDetailsEnd", 7))), "executions")
    check(app, any(a[2].orderRef == "ibapi-mkt" and a[2].shares == 10
                   for a in app.of("execDetails", 7)), "executions carry orderRef and shares")
    app.reqPositions()
    check(app, app.wait(lambda c: bool(app.of("positionEnd"))), "positions")
    check(app, any(a[1].conId == 756733 and a[2] >= 10 for a in app.of("position")),
          "position in SPY")
    if v >= 150:
        app.reqCompletedOrders(False)
        check(app, app.wait(lambda c: bool(app.of("completedOrdersEnd"))), "completed orders")
        check(app, any(a[1].orderRef == "ibapi-mkt" for a in app.of("completedOrder")),
              "completed order carries orderRef")

    # ---- account
    app.reqAccountUpdates(True, account)
    check(app, app.wait(lambda c: bool(app.of("accountDownloadEnd"))), "account updates")
    keys = {a[0] for a in app.of("updateAccountValue")}
    check(app, {"NetLiquidation", "TotalCashValue"} <= keys, "account values")
    check(app, any(a[0].conId == 756733 for a in app.of("updatePortfolio")), "portfolio")
    app.reqAccountUpdates(False, account)
    app.reqAccountSummary(8, "All", ACCOUNT_TAGS)
    check(app, app.wait(lambda c: bool(app.of("accountSummaryEnd", 8))), "account summary")
    check(app, any(a[2] == "NetLiquidation" for a in app.of("accountSummary", 8)),
          "account summary values")
    if v >= 127:
        app.reqPnL(9, account, "")
        check(app, app.wait(lambda c: bool(app.of("pnl", 9))), "pnl")
        app.cancelPnL(9)

    # ---- the rest of what the system uses
    app.reqCurrentTime()
    check(app, app.wait(lambda c: bool(app.of("currentTime"))), "current time")
    app.reqRealTimeBars(10, spy, 5, "TRADES", False, [])
    check(app, app.wait(lambda c: bool(app.of("realtimeBar", 10)), 15.0), "real-time bars")
    app.cancelRealTimeBars(10)
    app.reqGlobalCancel()
    if v >= 118:
        app.reqHeadTimeStamp(11, spy, "TRADES", 1, 1)
        check(app, app.wait(lambda c: bool(app.of("headTimestamp", 11))), "head timestamp")

    # ---- requests a Gateway serves and the simulator answers minimally
    if v >= 104:
        app.reqSecDefOptParams(12, "SPY", "", "STK", 756733)
        check(app, app.wait(lambda c: bool(app.of("securityDefinitionOptionParameterEnd", 12))),
              "option parameters end")
    if v >= 108:
        app.reqMatchingSymbols(13, "SP")
        check(app, app.wait(lambda c: bool(app.of("symbolSamples", 13))), "matching symbols")
        found = [d.contract.symbol for d in app.of("symbolSamples", 13)[0][1]]
        check(app, "SPY" in found, f"matching symbols include SPY ({found})")
    if v >= 137:
        app.reqTickByTickData(14, spy, "BidAsk", 0, False)
        check(app, app.wait(lambda c: bool(app.of("tickByTickBidAsk", 14))), "tick by tick")
        app.cancelTickByTickData(14)
    app.reqMktDepth(15, spy, 3, False, [])
    check(app, app.wait(lambda c: len(app.of("updateMktDepth", 15)) >= 6), "market depth")
    app.cancelMktDepth(15, False)
    app.reqFundamentalData(16, spy, "ReportSnapshot", [])
    check(app, app.wait(lambda c: errors(app, 16, 430)), "unsupported: fundamentals get 430")

    check(app, not dropped.records, f"no message dropped by the decoder {dropped.records}")
    check(app, app.isConnected(), "still connected")
    app.disconnect()
    print(f"ibapi conformance passed at server version {v}")


if __name__ == "__main__":
    main()
