"""ats.ib.adapter's typed helpers against the simulator, on the library ATS_IB_LIB names.

Usage: ATS_IB_LIB=ib_async|ib_insync python adapter_seam_check.py HOST PORT CLIENT_ID
Run by test_sim_adapter_seam.py under each library's venv (ib_insync has its own). Exits
non-zero with a message naming the failing step.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

from ats.ib import adapter


def check(ok: bool, step: str) -> None:
    if not ok:
        print(f"FAIL ({adapter.IB_LIB}): {step}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {step}")


async def wait(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return cond()


async def main(host: str, port: int, client_id: int) -> None:
    ib = adapter.IB()
    await adapter.connect(ib, host, port, client_id, timeout=10.0)
    try:
        spy = adapter.Stock("SPY", "SMART", "USD")
        qualified = await adapter.qualify(ib, spy)
        check(qualified is spy and spy.conId > 0, "a known contract is qualified in place")
        # ib_async answers None for an unknown contract, ib_insync leaves it out
        unknown = await adapter.qualify(ib, adapter.Stock("NOSUCHSYMBOL", "SMART", "USD"))
        check(unknown is None, "an unknown contract qualifies to None")
        details = await ib.reqContractDetailsAsync(adapter.Future("VXM", exchange="CFE"))
        listed = [adapter.details_contract(d) for d in details]
        check(len(listed) > 1 and all(c.symbol == "VXM" and c.conId > 0 for c in listed),
              "each listed future's contract")
        ticker = ib.reqMktData(spy, "", False, False)
        check(await wait(lambda: ticker.bid > 0), "a quote to price a resting order")
        ib.cancelMktData(spy)
        rest = ib.placeOrder(spy, adapter.LimitOrder("BUY", 1, round(ticker.bid * 0.5, 2)))
        check(await wait(lambda: rest.orderStatus.status == "Submitted"), "the order rests")
        adapter.global_cancel(ib)
        check(await wait(lambda: rest.orderStatus.status == "Cancelled"),
              "a global cancel cancels it")
    finally:
        ib.disconnect()
    print(f"adapter seam check passed on {adapter.IB_LIB}")


if __name__ == "__main__":
    adapter.util.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
