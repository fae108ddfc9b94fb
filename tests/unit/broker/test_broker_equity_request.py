"""The broker's `equity` request: persisted and fresh samples together, each stamped in UTC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest
from broker_testkit import broker_in, fill


def test_persisted_and_fresh_samples_both_come_back_with_their_utc_offset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with broker_in(tmp_path / "home", monkeypatch) as b:
        b.ledger.apply_execution(fill("BOT", 1, 10))
        b.ledger.sample_equity(1_795_000_000.0)
        b.store.write_equity(b.ledger.drain_equity())  # persisted: ArcticDB drops the zone
        b.ledger.sample_equity(1_795_000_060.0)  # fresh, not yet written
        rows = asyncio.run(b.m_equity({"strategy": "alpha"}))
    stamps = [pd.Timestamp(r["ts"]) for r in rows]
    assert [t.tzinfo is not None for t in stamps] == [True] * len(stamps)
    assert stamps[-1] == pd.Timestamp(1_795_000_060.0, unit="s", tz="UTC")
