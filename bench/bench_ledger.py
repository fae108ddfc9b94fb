"""Ledger write cost per fill, Ledger.apply_execution throughput, risk checks per second.

The order path pays only the journal append; ArcticDB is written in batches off the path.
The one-row ArcticDB append is measured in the same run as the baseline to compare with.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import arcticdb
import pandas as pd

from ats.broker.intents import IntentLog
from ats.broker.ledger import Ledger
from ats.broker.ledger_store import LedgerStore, _frame
from ats.broker.risk import Limits, RiskEngine
from ats.broker.tradingstate import TradingStates
from ats.orders.fills import Execution
from ats.orders.intent import OrderIntent
from bench.figures import Figure, record

_ids = itertools.count(1)


def make_fill(i: int | None = None) -> Execution:
    n = next(_ids) if i is None else i
    return Execution(
        exec_id=f"0000e0d5.{n:08x}.01.01", perm_id=n, order_id=n, client_id=11 + n % 4,
        order_ref=f"ats:s{n % 4}:{n}", account="DU1", con_id=1000 + n % 20, symbol="X",
        sec_type="STK", currency="USD", multiplier=1.0, side="BOT" if n % 3 else "SLD",
        shares=float(1 + n % 7), price=100.0 + (n % 50) / 10, time=datetime.now(UTC),
    )


def per_call(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench_ledger_"))
    try:
        ac = arcticdb.Arctic(f"lmdb://{root}/arctic")
        store = LedgerStore(root / "journal", "", arctic=ac, compact_every=0)
        t_fsync = per_call(lambda: store.record_execution(make_fill()), 300)
        t_nosync = per_call(lambda: store.record_execution(make_fill(), sync=False), 2000)
        store.flush_to_arctic()  # warm: symbol exists

        for _ in range(1000):
            store.record_execution(make_fill(), sync=False)
        t0 = time.perf_counter()
        rows = store.flush_to_arctic()
        t_batch = (time.perf_counter() - t0) / rows

        lib = ac.get_library("direct", create_if_missing=True)
        lib.write("fills", _frame([{"seq": 0, **make_fill().to_dict()}]))
        seqs = itertools.count(1)
        t_arctic = per_call(
            lambda: lib.append("fills", _frame([{"seq": next(seqs), **make_fill().to_dict()}])),
            100,
        )
        store.close(flush=False)

        with IntentLog(root / "intents.jsonl") as wal:
            def approve_one() -> None:
                n = wal.next_id()
                wal.approve(OrderIntent(n, "s0", 1000, "X", "STK", "BUY", 1, "LMT", 100.0,
                                        None, "DAY", 1.0, 100.0, 0.0))
            t_wal = per_call(approve_one, 300)

        fills = [make_fill() for _ in range(20_000)]
        ledger = Ledger()
        t0 = time.perf_counter()
        for f in fills:
            ledger.apply_execution(f)
        apply_rate = len(fills) / (time.perf_counter() - t0)

        limits = Limits(max_order_qty=1e6, max_order_notional=1e12, max_position=1e9,
                        max_gross_exposure=1e15, max_orders_per_minute=1e9)
        risk = RiskEngine(limits, None, limits, msgs_per_second=10**9)
        states = TradingStates()
        intents = [OrderIntent(i, f"s{i % 4}", 1000 + i % 20, "X", "STK", "BUY", 1, "LMT",
                               100.0, None, "DAY", 1.0, 100.0, 0.0) for i in range(20_000)]
        t0 = time.perf_counter()
        for k, it in enumerate(intents):
            risk.check(it, ledger, states, 1e9 + k * 1e-3)
        check_rate = len(intents) / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    table = pd.DataFrame(
        [
            ("journal append + fsync (order path)", t_fsync * 1e6, 1.0),
            ("journal append, fsync deferred", t_nosync * 1e6, t_nosync / t_fsync),
            ("ArcticDB batched flush, per row", t_batch * 1e6, t_batch / t_fsync),
            ("ArcticDB one-row append (baseline)", t_arctic * 1e6, t_arctic / t_fsync),
        ],
        columns=["ledger write per fill", "us", "x journal+fsync"],
    )
    print(f"bench_ledger (tmp dir {root.parent})")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"intent WAL approve (fsync): {t_wal * 1e6:,.0f} us = {t_wal / t_fsync:.2f}x journal")
    print(f"one-row ArcticDB append / journal+fsync: {t_arctic / t_fsync:,.1f}x")
    print(f"Ledger.apply_execution: {apply_rate:,.0f} fills/s")
    print(f"RiskEngine.check (all limits on, {len(ledger.strategies())} strategies, "
          f"20 contracts): {check_rate:,.0f} checks/s")
    us = 1e6
    record("ledger", [
        # the one-row ArcticDB append is the docstring's baseline for the order path's write;
        # the other writes are against journal+fsync, as the printed table has them
        Figure("journal append + fsync (order path)", t_fsync * us, "us", t_arctic * us),
        Figure("journal append, fsync deferred", t_nosync * us, "us", t_fsync * us),
        Figure("ArcticDB batched flush, per row", t_batch * us, "us", t_fsync * us),
        Figure("ArcticDB one-row append", t_arctic * us, "us", t_fsync * us),
        Figure("intent WAL approve (fsync)", t_wal * us, "us", t_fsync * us),
        Figure("Ledger.apply_execution", apply_rate, "fills/s"),
        Figure("RiskEngine.check", check_rate, "checks/s"),
    ])


if __name__ == "__main__":
    main()
