"""ArcticDB on S3 (moto's server): the ledger store, the registry and the bar store run on an
S3 URI with the same code as on LMDB, and a reader racing the ledger's writer never fails."""

from __future__ import annotations

import threading
from pathlib import Path

import arcticdb
import pandas as pd
import pytest
from broker_testkit import commission, fill

from ats import config
from ats.broker.ledger import Ledger
from ats.broker.ledger_store import LedgerStore
from ats.data.store import BarStore
from ats.manager.registry import Registry

pytestmark = pytest.mark.timeout(180)


def test_the_configured_uri_is_s3_with_the_aws_chain_and_no_credentials(
        cfg: config.Config) -> None:
    uri = cfg.arctic_uri
    assert uri.startswith("s3://127.0.0.1:") and uri.endswith("&aws_auth=true")
    assert "access=" not in uri and "secret=" not in uri


def test_the_ledger_flushes_to_s3_and_another_store_reads_it_back(
        cfg: config.Config, tmp_path: Path) -> None:
    fills = [fill("BOT", 10, 100), fill("SLD", 4, 101)]
    store = LedgerStore(tmp_path / "journal", cfg.arctic_uri)
    for f in fills:
        store.record_execution(f)
    store.record_commission(commission(fills[0], 1.25))
    assert store.flush_to_arctic() == 3
    store.write_equity(pd.DataFrame({"ts": [1.0, 2.0], "strategy": ["alpha", "alpha"],
                                     "equity": [100.0, 101.0]}))
    store.close()

    # another host (no journal of its own) reads the same bucket
    reader = LedgerStore(tmp_path / "elsewhere", cfg.arctic_uri,
                         arctic=arcticdb.Arctic(cfg.arctic_uri), read_only=True)
    execs, comms = reader.load()
    assert execs == fills and [c.commission for c in comms] == [1.25]
    ledger = Ledger()
    ledger.replay(execs, comms)
    assert ledger.position("alpha", 265598) == 6
    assert list(reader.read_equity_df()["equity"]) == [100.0, 101.0]
    assert not (tmp_path / "elsewhere").exists()


def test_a_reader_racing_the_ledgers_writer_on_s3_always_reads_a_whole_ledger(
        cfg: config.Config, tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "journal", cfg.arctic_uri, compact_every=3)
    store.record_execution(fill("BOT", 1, 10))
    store.flush_to_arctic()
    reader = LedgerStore(tmp_path / "elsewhere", cfg.arctic_uri,
                         arctic=arcticdb.Arctic(cfg.arctic_uri), read_only=True)
    done, seen, errors = threading.Event(), [], []

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(len(reader.read_fills_df()))
            except Exception as exc:  # the failure under test
                errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(12):  # each append prunes the version before it
            store.record_execution(fill("BOT", 1, 10))
            store.flush_to_arctic()
    finally:
        done.set()
        thread.join(60)
        store.close()
    assert errors == []
    assert seen and seen == sorted(seen) and seen[-1] <= 13
    assert len(reader.read_fills_df()) == 13


def test_the_registry_lives_on_s3(cfg: config.Config) -> None:
    registry = Registry(cfg.arctic_uri, first_client_id=101)
    registry.add("alpha", "strategies/example.py", params={"n": 3}, target_weight=0.1,
                 max_weight=0.2)
    registry.update("alpha", desired="running")
    again = Registry(cfg.arctic_uri, first_client_id=101)
    entry = again.get("alpha")
    assert (entry.client_id, entry.params, entry.desired) == (101, {"n": 3}, "running")


def test_bars_are_stored_merged_and_read_on_s3(cfg: config.Config) -> None:
    store = BarStore(cfg.arctic_uri, str(cfg.section("data")["library"]))
    idx = pd.date_range("2026-01-05 14:30", periods=4, freq="1min", tz="UTC")
    bars = pd.DataFrame({"open": [1.0, 2, 3, 4], "high": [1.0, 2, 3, 4], "low": [1.0, 2, 3, 4],
                         "close": [1.0, 2, 3, 4], "volume": [10.0, 20, 30, 40]}, index=idx)
    assert store.merge("SPY.1min", bars.iloc[:2]) == 2
    assert store.merge("SPY.1min", bars) == 2  # only the two new rows
    assert store.names() == ["SPY.1min"]
    assert list(store.read("SPY.1min")["close"]) == [1.0, 2, 3, 4]
    assert list(store.tail("SPY.1min", 1)["close"]) == [4.0]
    assert store.coverage("SPY.1min") is not None
