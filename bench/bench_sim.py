"""Simulator benchmark with bare ib_async (client throttle off), against a minimal fake
gateway measured in the same run. Prints figures and sim/fake ratios."""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import sys
import time

from ib_async import IB, Contract, MarketOrder

from ats.sim.process import SimProcess
from bench.figures import Figure, record

ROUND_TRIPS = 300
PIPELINED = 500
TICK_CLIENTS = 10
TICK_SECONDS = 3.0
UNITS = {"connect_ms": "ms", "rtt_p50_ms": "ms", "rtt_p99_ms": "ms", "orders_per_s": "/s"}
SYMBOLS = ["SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "AMZN", "META", "TSLA", "JPM"]


async def _connect(port: int, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=10)
    ib.client.MaxRequests = 0
    return ib


async def _measure_orders(port: int) -> dict[str, float]:
    connects = []
    for i in range(5):
        t = time.perf_counter()
        ib = await _connect(port, 100 + i)
        connects.append(time.perf_counter() - t)
        ib.disconnect()
    ib = await _connect(port, 1)
    spy = Contract(conId=756733, symbol="SPY", secType="STK", exchange="SMART",
                   currency="USD")
    rtts = []
    for _ in range(ROUND_TRIPS):
        t = time.perf_counter()
        trade = ib.placeOrder(spy, MarketOrder("BUY", 1))
        while trade.orderStatus.status != "Filled":
            await trade.statusEvent
        rtts.append(time.perf_counter() - t)
    t = time.perf_counter()
    trades = [ib.placeOrder(spy, MarketOrder("BUY", 1)) for _ in range(PIPELINED)]
    while not all(tr.orderStatus.status == "Filled" for tr in trades):
        await asyncio.sleep(0.001)
    rate = PIPELINED / (time.perf_counter() - t)
    ib.disconnect()
    rtts.sort()
    return {"connect_ms": statistics.median(connects) * 1e3,
            "rtt_p50_ms": rtts[len(rtts) // 2] * 1e3,
            "rtt_p99_ms": rtts[int(len(rtts) * 0.99)] * 1e3,
            "orders_per_s": rate}


async def _measure_ticks(port: int) -> float:
    clients = [await _connect(port, 200 + i) for i in range(TICK_CLIENTS)]
    count = 0

    def on_tick(tickers: set[object]) -> None:
        nonlocal count
        count += sum(len(t.ticks) for t in tickers)  # type: ignore[attr-defined]

    for ib in clients:
        contracts = [Contract(symbol=s, secType="STK", exchange="SMART", currency="USD")
                     for s in SYMBOLS]
        await ib.qualifyContractsAsync(*contracts)
        for c in contracts:
            ib.reqMktData(c)
        ib.pendingTickersEvent += on_tick
    await asyncio.sleep(1.0)
    count = 0
    await asyncio.sleep(TICK_SECONDS)
    rate = count / TICK_SECONDS
    for ib in clients:
        ib.disconnect()
    return rate


def _fake_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    m = re.search(r":(\d+)$", proc.stdout.readline().strip())
    if not m:
        raise RuntimeError("fake gateway did not start")
    return int(m.group(1))


def main() -> None:
    fake = subprocess.Popen([sys.executable, "-m", "bench._fake_gateway", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        base = asyncio.run(_measure_orders(_fake_port(fake)))
    finally:
        fake.terminate()
        fake.wait()
    # --clock session: with the market closed (a weekend, a night) a wall-clock simulator
    # never fills the market orders and the bench would hang
    with SimProcess(seed=1, extra_args=["--max-msg-rate", "0", "--log-level", "WARNING",
                                        "--clock", "session"]) as sim:
        figures = asyncio.run(_measure_orders(sim.port))
        ticks = asyncio.run(_measure_ticks(sim.port))
    print(f"{'figure':<16}{'sim':>12}{'fake':>12}{'sim/fake':>10}")
    for key in ("connect_ms", "rtt_p50_ms", "rtt_p99_ms", "orders_per_s"):
        print(f"{key:<16}{figures[key]:>12.3f}{base[key]:>12.3f}{figures[key] / base[key]:>10.2f}")
    print(f"{'ticks_per_s':<16}{ticks:>12.0f}{'n/a':>12}{'':>10}  "
          f"({TICK_CLIENTS} clients x {len(SYMBOLS)} symbols)")
    record("sim", [Figure(key, figures[key], unit, base[key]) for key, unit in UNITS.items()]
           + [Figure("ticks_per_s", ticks, "/s")])


if __name__ == "__main__":
    main()
