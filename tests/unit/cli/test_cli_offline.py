"""With the broker down, positions, fills and P&L are read from the ledger's store, and orders
from the broker's order history, read-only."""

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
from ats.broker import order_store
from ats.broker.ledger_store import LedgerStore
from ats.broker.order_store import OrderStore
from ats.cli.main import cli
from ats.orders.fills import CommissionReport, Execution


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


def order(n: int, status: str, filled: float, avg: float | None) -> dict[str, object]:
    return {"order_ref": f"ats:alpha:{n}", "strategy": "alpha", "symbol": "SPY",
            "con_id": 756733, "side": "BUY", "quantity": 10.0, "order_type": "MKT",
            "status": status, "filled": filled, "avg_price": avg, "perm_id": 100 + n,
            "client_id": 11}


def test_orders_are_read_from_the_brokers_order_history_when_it_is_down(home: Path) -> None:
    stored = {"alpha|ats:alpha:1": order(1, "Filled", 10.0, 500.5),
              "alpha|ats:alpha:2": order(2, "Submitted", 4.0, 499.0)}
    store = OrderStore(config.load(home).state_dir / order_store.FILE)
    store.mark_dirty()
    assert store.save(stored)
    before = files(home)
    everything, note = run(home, "orders", "--all")
    assert note.startswith("offline: the broker is not running")
    assert everything == list(stored.values())
    working, _ = run(home, "orders", "--strategy", "alpha")
    assert working == [stored["alpha|ats:alpha:2"]]
    assert run(home, "orders", "--all", "--strategy", "beta")[0] == []
    assert files(home) == before


def test_orders_offline_with_no_order_history_yet_is_empty(home: Path) -> None:
    rows, note = run(home, "orders", "--all")
    assert rows == [] and "offline: the broker is not running" in note


def test_orders_in_an_uninitialised_home_creates_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["orders", "--all", "--json"],
                                env={"ATS_HOME": str(tmp_path)})
    assert result.exit_code == 20, result.output
    assert "not an initialised ATS_HOME" in result.stderr
    assert list(tmp_path.iterdir()) == []
