"""Conformance of the simulator with ib_insync 0.9.86 (run in its own venv).

Usage: python insync_conformance.py HOST PORT
Imports only ib_insync and the standard library. Prints `ok: <step>` per step and exits
non-zero with `FAIL: <step>` naming the first failing one.
"""

from __future__ import annotations

import sys

from ib_insync import (
    IB,
    ExecutionFilter,
    LimitOrder,
    MarketOrder,
    Stock,
    StopLimitOrder,
    StopOrder,
)

SPY_CON_ID = 756733


def check(ok: bool, step: str) -> None:
    if not ok:
        print(f"FAIL: {step}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {step}")


def wait(ib: IB, cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    waited = 0.0
    while not cond() and waited < timeout:
        ib.sleep(0.05)
        waited += 0.05
    return bool(cond())


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    ib = IB()
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    ib.connect(host, port, clientId=71, timeout=10)
    check(ib.isConnected() and bool(ib.managedAccounts()), "connect")
    check(ib.client.serverVersion() == 176, f"handshake: {ib.client.serverVersion()}")

    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    check(spy.conId == SPY_CON_ID and spy.primaryExchange == "ARCA", "contract details")
    check(ib.reqContractDetails(Stock("NOSUCHSYM", "SMART", "USD")) == []
          and any(code == 200 and req_id > 0 for req_id, code in errors),
          "unknown contract: error 200 with the request's id")

    ticker = ib.reqMktData(spy)
    check(wait(ib, lambda: ticker.bid > 0 and ticker.ask > 0 and ticker.bidSize > 0),
          "streaming ticks")
    ib.cancelMktData(spy)
    daily = ib.reqHistoricalData(spy, "", "5 D", "1 day", "TRADES", True)
    check(len(daily) >= 4 and all(b.volume > 0 for b in daily), "daily bars with volumes")
    minutes = ib.reqHistoricalData(spy, "", "1800 S", "1 min", "TRADES", False, formatDate=2)
    check(any(b.volume > 0 for b in minutes), "minute bars with volumes")

    trade = ib.placeOrder(spy, MarketOrder("BUY", 7, orderRef="insync-conf"))
    check(wait(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) > 0),
          "market order filled")
    check(trade.fills[0].commissionReport.commission > 0, "commission report")
    rest = ib.placeOrder(spy, LimitOrder("BUY", 1, round(ticker.bid * 0.5, 2)))
    check(wait(ib, lambda: rest.orderStatus.status == "Submitted"), "limit order rests")
    rest.order.lmtPrice = round(ticker.bid * 0.4, 2)
    ib.placeOrder(spy, rest.order)
    check(wait(ib, lambda: any(o.lmtPrice == rest.order.lmtPrice for o in ib.openOrders())),
          "limit order modified")
    ib.cancelOrder(rest.order)
    check(wait(ib, lambda: rest.orderStatus.status == "Cancelled"), "cancel")
    for stop in (StopOrder("BUY", 2, round(ticker.bid * 0.5, 2)),
                 StopLimitOrder("BUY", 2, round(ticker.ask * 1.02, 2),
                                round(ticker.bid * 0.5, 2))):
        placed = ib.placeOrder(spy, stop)
        check(wait(ib, lambda t=placed: t.orderStatus.status == "Filled"),
              f"{stop.orderType} order triggers and fills")
    fills = ib.reqExecutions(ExecutionFilter(clientId=71))
    check(any(f.execution.orderRef == "insync-conf" for f in fills), "executions")
    check(any(p.contract.conId == SPY_CON_ID for p in ib.reqPositions()), "positions")
    check(any(t.order.orderRef == "insync-conf" for t in ib.reqCompletedOrders(False)),
          "completed orders")
    tags = {v.tag for v in ib.accountValues()}
    check({"NetLiquidation", "TotalCashValue"} <= tags, "account values")
    check(any(v.tag == "NetLiquidation" for v in ib.accountSummary()), "account summary")
    check(ib.reqCurrentTime().year >= 2020, "current time")
    bars = ib.reqRealTimeBars(spy, 5, "TRADES", False)
    check(wait(ib, lambda: len(bars) > 0, 15.0), "real-time bars")
    ib.cancelRealTimeBars(bars)

    px = ticker.marketPrice()
    bracket = ib.bracketOrder("BUY", 3, round(px * 0.5, 2), round(px * 2, 2), round(px * 0.3, 2))
    legs = [ib.placeOrder(spy, o) for o in bracket]
    check(wait(ib, lambda: [t.orderStatus.status for t in legs]
               == ["Submitted", "PreSubmitted", "PreSubmitted"]), "bracket: children wait")
    ib.cancelOrder(bracket.parent)
    check(wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in legs)),
          "bracket: cancelling the parent cancels the children")
    oca = [ib.placeOrder(spy, o) for o in ib.oneCancelsAll(
        [LimitOrder("BUY", 1, round(px * 0.5, 2)), MarketOrder("BUY", 1)], "insync-oca", 1)]
    check(wait(ib, lambda: oca[1].orderStatus.status == "Filled"
               and oca[0].orderStatus.status == "Cancelled"), "OCA: a fill cancels the rest")

    n_fills = len(ib.reqExecutions())
    state = ib.whatIfOrder(spy, MarketOrder("BUY", 100))
    check(float(state.initMarginChange) > 0 and state.commission > 0, "what-if preview")
    ib.sleep(0.5)
    check(len(ib.reqExecutions()) == n_fills, "what-if order never executes")

    check(ib.reqSecDefOptParams("SPY", "", "STK", SPY_CON_ID) == [],
          "option parameters: empty, not waiting")
    check(any(d.contract.symbol == "SPY" for d in ib.reqMatchingSymbols("SPY")),
          "matching symbols")
    tbt = ib.reqTickByTickData(spy, "BidAsk")
    check(wait(ib, lambda: len(tbt.tickByTicks) > 0), "tick by tick")
    ib.cancelTickByTickData(spy, "BidAsk")
    depth = ib.reqMktDepth(spy, 3)
    check(wait(ib, lambda: len(depth.domBids) == 3 and len(depth.domAsks) == 3),
          "market depth")
    ib.cancelMktDepth(spy)
    check(not ib.reqFundamentalData(spy, "ReportSnapshot")
          and any(code == 430 and req_id > 0 for req_id, code in errors),
          "unsupported request: error with the request's id")
    check(ib.isConnected(), "still connected")
    ib.disconnect()
    print("insync conformance passed")


if __name__ == "__main__":
    main()
