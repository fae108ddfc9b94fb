"""With the broker down, positions, fills and P&L are read from the ledger's store, read-only."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ats import config
from ats.broker.ledger_store import LedgerStore
from ats.broker.model import CommissionReport, Execution
from ats.cli.main import cli


def execution(n: int, side: str, shares: float, price: float, ref: str) -> Execution:
    return Execution(f"0000e0f1.{n:08x}.01.01", 100 + n, n, 11, ref, "DU1", 756733, "SPY",
                     "STK", "USD", 1.0, side, shares, price,
                     dt.datetime(2026, 11, 18, 15, n, tzinfo=dt.UTC))


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    try:
        cfg = config.init_home(path)
        store = LedgerStore(cfg.state_dir / "ledger", cfg.arctic_uri)
        for n, (side, shares, price) in enumerate([("BOT", 10, 500.0), ("SLD", 4, 510.0)], 1):
            e = execution(n, side, shares, price, "ats:alpha:1")
            store.record_execution(e)
            store.record_commission(CommissionReport(e.exec_id, 1.0, "USD", None))
            if n == 1:
                store.flush_to_arctic()  # one in ArcticDB, one only in the journal
        store.close(flush=False)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def run(home: Path, *args: str) -> tuple[list[dict[str, object]], str]:
    result = CliRunner().invoke(cli, [*args, "--json"], env={"ATS_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_the_books_are_read_from_the_store_when_the_broker_is_down(home: Path) -> None:
    before = files(home)
    positions, note = run(home, "positions")
    assert "offline: the broker is not running" in note
    assert [(p["strategy"], p["position"]) for p in positions] == [("alpha", 6.0)]
    fills, _ = run(home, "fills")
    assert [f["side"] for f in fills] == ["BOT", "SLD"]
    [pnl], _ = run(home, "pnl")
    assert pnl["strategy"] == "alpha" and pnl["commissions"] == 2.0
    assert pnl["realized_pnl"] == pytest.approx(4 * (510.0 - 500.0))
    assert files(home) == before  # read-only: nothing written, created or cut
