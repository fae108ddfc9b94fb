"""Issue 16, ArcticDB on S3: the whole system with [storage] arctic_uri on a local S3 server
(moto), the credentials only in the environment of `ats-ctl up`. A strategy trades, its fills
are in the ledger on S3, and a restart (with the local journal gone) keeps them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import arcticdb
import pytest
from s3kit import CREDENTIALS, S3Server
from systemkit import PROBE, System, wait_for

from ats.broker.ledger_store import LedgerStore

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]



@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system(s3: S3Server, system_factory: Any) -> System:
    def credentials(s: System) -> None:
        s.env.update(CREDENTIALS)

    s: System = system_factory(
        [{"name": "probe", "spec": PROBE, "params": {"mode": "churn", "quantity": 2}}],
        {"storage": {"arctic_uri": s3.uri(s3.bucket(), prefix="ats")}}, prepare=credentials)
    wait_for(lambda: s.all_running(["probe"]), 90, "the probe RUNNING")
    return s


def probe_fills(system: System, at_least: int) -> list[dict[str, Any]] | None:
    fills = [f for f in system.json("fills", "--limit", "0") if f["strategy"] == "probe"]
    return fills if len(fills) >= at_least else None


def on_s3(system: System, journal: Path) -> set[str]:
    """The exec ids of the ledger as stored on S3, read from outside the system."""
    uri = system.cfg().arctic_uri
    assert uri.startswith("s3://") and "aws_auth=true" in uri
    store = LedgerStore(journal, uri, arctic=arcticdb.Arctic(uri), read_only=True)
    execs, _ = store.load()
    return {e.exec_id for e in execs if hasattr(e, "exec_id")}


def test_fills_land_in_the_ledger_on_s3_and_survive_a_restart(
        system: System, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    fills = wait_for(lambda: probe_fills(system, 2), 90, "two probe fills in the ledger")
    ids = {f["exec_id"] for f in fills}
    # the broker flushes its journal to ArcticDB every [broker] flush_seconds
    wait_for(lambda: ids <= on_s3(system, tmp_path / "j1"), 60, "the fills on S3")
    assert not (system.home / "arctic").exists(), "something wrote to a local LMDB"

    system.ctl("down", timeout=90)
    # what is on S3 alone must bring the ledger back: no local journal to replay
    shutil.rmtree(system.cfg().state_dir / "ledger")
    system.ctl("up", timeout=180)
    wait_for(lambda: system.all_running(["probe"]), 90, "the probe RUNNING again")
    after = {f["exec_id"] for f in system.json("fills", "--limit", "0")}
    assert ids <= after
    assert "probe" in {s["name"] for s in system.json("status")}  # the registry, from S3
