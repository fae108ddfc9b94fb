"""ArcticDB on S3 against LMDB (issue 16), in the same run: the ledger's batched flush (the
broker's every [broker] flush_seconds) and the registry's read (the manager's reload).

S3 is moto's server mode on 127.0.0.1 (tests/s3kit.py, a process of its own), so the figure
is ArcticDB's S3 protocol cost without a network's round trip: a real bucket adds its latency
(a few ms in-region) to every request.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.bench_ledger import make_fill
from bench.figures import Figure, record

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from s3kit import CREDENTIALS, S3Server

from ats.broker.ledger_store import LedgerStore
from ats.manager.registry import Registry

FLUSHES = 30
BATCH = 50  #: fills per flush (a busy minute of the whole account)
REGISTRY_READS = 50
STRATEGIES = 30


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def flushes(uri: str, journal: Path) -> list[float]:
    store = LedgerStore(journal, uri)
    store.record_execution(make_fill())
    store.flush_to_arctic()  # warm: the symbols exist

    def one() -> None:
        for _ in range(BATCH):
            store.record_execution(make_fill(), sync=False)
        assert store.flush_to_arctic() == BATCH

    try:
        return timed(one, FLUSHES)
    finally:
        store.close()


def registry_reads(uri: str) -> list[float]:
    registry = Registry(uri)
    for i in range(STRATEGIES):
        registry.add(f"s{i}", "strategies/example.py", params={"n": i})
    return timed(registry.reload, REGISTRY_READS)


def as_figures(rows: dict[str, dict[str, list[float]]]) -> list[Figure]:
    """S3's p50 and p90 against LMDB's (issue 16 asks for the comparison, states no goal)."""
    out = []
    for figure, lm in rows["lmdb"].items():
        s3v = rows["s3 (moto)"][figure]
        label = figure.removesuffix(" (ms)")
        out.append(Figure(f"{label} p50", statistics.median(s3v), "ms", statistics.median(lm)))
        out.append(Figure(f"{label} p90", statistics.quantiles(s3v, n=10)[-1], "ms",
                          statistics.quantiles(lm, n=10)[-1]))
    return out


def main() -> None:
    os.environ.update(CREDENTIALS)
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    s3 = S3Server().start()
    try:
        uris = {"lmdb": f"lmdb://{tmp}/arctic",
                "s3 (moto)": s3.uri(s3.bucket()) + "&aws_auth=true"}
        rows: dict[str, dict[str, list[float]]] = {}
        for name, uri in uris.items():
            rows[name] = {
                f"ledger flush of {BATCH} fills (ms)": flushes(uri, tmp / f"journal-{len(rows)}"),
                f"registry read, {STRATEGIES} strategies (ms)": registry_reads(uri),
            }
        print(f"ArcticDB on S3 vs LMDB (moto on 127.0.0.1; {FLUSHES} flushes, "
              f"{REGISTRY_READS} registry reads)")
        print(f"{'figure':<40}{'lmdb p50':>10}{'s3 p50':>10}{'lmdb p90':>10}{'s3 p90':>10}"
              f"{'s3/lmdb':>9}")
        for figure in rows["lmdb"]:
            lm, s3v = rows["lmdb"][figure], rows["s3 (moto)"][figure]
            p90 = (statistics.quantiles(lm, n=10)[-1], statistics.quantiles(s3v, n=10)[-1])
            print(f"{figure:<40}{statistics.median(lm):>10.1f}{statistics.median(s3v):>10.1f}"
                  f"{p90[0]:>10.1f}{p90[1]:>10.1f}"
                  f"{statistics.median(s3v) / statistics.median(lm):>9.1f}")
        record("storage", as_figures(rows))
    finally:
        s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
