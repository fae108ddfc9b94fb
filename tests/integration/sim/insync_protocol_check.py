"""Protocol check of the simulator with ib_insync 0.9.86 (run in its own venv).

Usage: python insync_protocol_check.py HOST PORT
Imports only ib_insync, pandas and the standard library. Exits non-zero with a message
naming the failing step.
"""

from __future__ import annotations

import sys

from ib_insync import IB, ExecutionFilter, LimitOrder, MarketOrder, Stock, util


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
    ib.connect(host, port, clientId=41, timeout=10)
    check(ib.isConnected() and bool(ib.managedAccounts()), "connect")
    spy = Stock("SPY", "SMART", "USD")
    ib.qualifyContracts(spy)
    check(spy.conId > 0, "qualify")
    ticker = ib.reqMktData(spy)
    check(wait(ib, lambda: ticker.bid > 0 and ticker.ask > 0), "streaming ticks")
    ib.cancelMktData(spy)
    bars = ib.reqHistoricalData(spy, "", "1 M", "1 day", "TRADES", True)
    df = util.df(bars)
    check(df is not None and len(df) > 15, "historical bars into pandas")
    trade = ib.placeOrder(spy, MarketOrder("BUY", 10, orderRef="insync"))
    check(wait(ib, lambda: trade.orderStatus.status == "Filled" and len(trade.fills) > 0),
          "market order filled")
    check(trade.fills[0].commissionReport.commission > 0, "commission report")
    rest = ib.placeOrder(spy, LimitOrder("BUY", 1, round(ticker.bid * 0.5, 2)))
    check(wait(ib, lambda: rest.orderStatus.status == "Submitted"), "limit order rests")
    ib.cancelOrder(rest.order)
    check(wait(ib, lambda: rest.orderStatus.status == "Cancelled"), "cancel")
    fills = ib.reqExecutions(ExecutionFilter(clientId=41))
    check(any(f.execution.orderRef == "insync" for f in fills), "executions")
    check(any(p.contract.conId == spy.conId for p in ib.positions()), "positions")
    ib.disconnect()
    print("insync protocol check passed")


if __name__ == "__main__":
    main()
