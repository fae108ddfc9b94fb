"""BarStore on a real LMDB ArcticDB: deduped, batched writes and recorded coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ats.data.ranges import Coverage
from ats.data.store import BarStore


def bars(start: str, n: int, base: float = 100.0) -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, freq="D", tz="UTC")
    close = base + np.arange(n, dtype=float)
    return pd.DataFrame({"open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": np.full(n, 1000.0)}, index=idx)


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(f"lmdb://{tmp_path}/arctic", "market_data")


def test_stored_frames_have_the_replay_shape(store: BarStore) -> None:
    store.merge("SPY.1d", bars("2024-01-01", 3).astype("int64"))
    df = store.read("SPY.1d")
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dt == np.float64 for dt in df.dtypes)
    assert str(pd.DatetimeIndex(df.index).tz) == "UTC"


def test_merging_the_same_rows_twice_writes_nothing(store: BarStore) -> None:
    assert store.merge("SPY.1d", bars("2024-01-01", 5)) == 5
    version = store.version("SPY.1d")
    assert store.merge("SPY.1d", bars("2024-01-01", 5)) == 0
    assert store.version("SPY.1d") == version


def test_newer_rows_are_appended_in_one_write(store: BarStore) -> None:
    store.merge("SPY.1d", bars("2024-01-01", 5))
    version = store.version("SPY.1d")
    assert store.merge("SPY.1d", bars("2024-01-03", 10)) == 7
    assert store.version("SPY.1d") == (version or 0) + 1
    assert len(store.read("SPY.1d")) == 12


def test_older_rows_are_inserted_and_stored_rows_win(store: BarStore) -> None:
    store.merge("SPY.1d", bars("2024-01-05", 5, base=500.0))
    assert store.merge("SPY.1d", bars("2024-01-01", 6, base=1.0)) == 4
    df = store.read("SPY.1d")
    assert len(df) == 9 and df.index.is_monotonic_increasing
    assert df.loc[pd.Timestamp("2024-01-05", tz="UTC"), "close"] == 500.0


def test_date_range_reads(store: BarStore) -> None:
    store.merge("SPY.1d", bars("2024-01-01", 10))
    df = store.read("SPY.1d", "2024-01-03", "2024-01-04")
    assert len(df) == 2


def test_coverage_is_recorded_with_the_write(store: BarStore) -> None:
    cov = Coverage(pd.Timestamp("2023-12-01", tz="UTC"), pd.Timestamp("2024-01-05", tz="UTC"))
    store.merge("SPY.1d", bars("2024-01-01", 5), cov)
    assert store.coverage("SPY.1d") == cov


def test_coverage_defaults_to_the_stored_range(store: BarStore) -> None:
    store.merge("SPY.1d", bars("2024-01-01", 5))
    cov = store.coverage("SPY.1d")
    assert cov is not None and cov.first == pd.Timestamp("2024-01-01", tz="UTC")


def test_list_and_info(store: BarStore) -> None:
    store.merge("SPY.1d", bars("2024-01-01", 5))
    store.merge("VXM.FUT.20261216.1d", bars("2024-01-01", 2))
    assert store.names() == ["SPY.1d", "VXM.FUT.20261216.1d"]
    info = store.info("VXM.FUT.20261216.1d")
    assert (info.symbol, info.bar, info.rows) == ("VXM.FUT.20261216", "1d", 2)
