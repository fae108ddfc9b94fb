"""The broker's order history on disk: read back as written, bounded, and never a reason to
crash (a corrupt file is set aside, a full disk is retried)."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from ats.broker import order_store
from ats.broker.order_store import OrderStore

pytestmark = pytest.mark.timeout(30)


def row(n: int, status: str = "Filled", **extra: Any) -> dict[str, Any]:
    return {"order_ref": f"ats:alpha:{n}", "strategy": "alpha", "symbol": "SPY",
            "con_id": 756733, "side": "BUY", "quantity": 10.0, "order_type": "MKT",
            "status": status, "filled": 10.0 if status == "Filled" else 0.0,
            "avg_price": 501.25 if status == "Filled" else None, "perm_id": 1000 + n,
            "client_id": 11, **extra}


def rows(*numbers: int, status: str = "Filled") -> dict[str, dict[str, Any]]:
    return {f"alpha|ats:alpha:{n}": row(n, status) for n in numbers}


def saved(path: Path, data: dict[str, dict[str, Any]]) -> OrderStore:
    store = OrderStore(path)
    store.mark_dirty()
    assert store.save(data)
    return store


def test_rows_read_back_as_written_in_their_order(tmp_path: Path) -> None:
    path = tmp_path / "state" / "orders.json"
    assert OrderStore(path).load() == {}
    data = {**rows(3), **rows(1, status="Submitted"), "unattributed|perm77": row(
        77, order_ref="", strategy="unattributed", client_id=0)}
    saved(path, data)
    loaded = OrderStore(path).load()
    assert loaded == data
    assert list(loaded) == list(data)
    assert not list(path.parent.glob("*.tmp"))


def test_nothing_is_written_until_a_row_changes(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    store = OrderStore(path)
    assert store.save(rows(1))
    assert not path.exists()
    store.mark_dirty()
    assert store.save(rows(1))
    assert order_store.read(path) == rows(1)
    assert not store.dirty


def test_the_loop_writes_changes_within_its_interval_and_stops_with_the_broker(
        tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    store = OrderStore(path)
    current = rows(1)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(store.run(lambda: current, stop, interval=0.05))
        store.mark_dirty()
        for _ in range(100):
            if path.exists():
                break
            await asyncio.sleep(0.01)
        assert order_store.read(path) == rows(1)
        current.update(rows(2, status="Submitted"))
        store.mark_dirty()
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert order_store.read(path) == {**rows(1), **rows(2, status="Submitted")}


def test_finished_orders_beyond_the_bound_are_dropped_oldest_first_open_ones_never(
        tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    data = {**rows(1, status="Submitted"), **rows(2, 3), **rows(4, status="PreSubmitted"),
            **rows(5, 6)}
    store = OrderStore(path, keep_done=2)
    store.mark_dirty()
    store.save(data)
    kept = order_store.read(path)
    assert [r["order_ref"] for r in kept.values()] == [
        "ats:alpha:1", "ats:alpha:4", "ats:alpha:5", "ats:alpha:6"]
    # a file written under a larger bound is cut to the bound when loaded
    assert list(OrderStore(saved(tmp_path / "big.json", data).path, keep_done=1).load()) == [
        "alpha|ats:alpha:1", "alpha|ats:alpha:4", "alpha|ats:alpha:6"]


@pytest.mark.parametrize("text", [
    '{"version": 1, "orders": {"alpha|ats:alpha:1": {"status": "Fil',  # torn
    "not json at all",
    '{"version": 2, "orders": {}}',
    '{"version": 1, "orders": {"alpha|ats:alpha:1": {"strategy": "alpha"}}}',
    '{"version": 1, "orders": []}',
    "[]",
])
def test_a_corrupt_file_is_set_aside_and_the_history_starts_empty(
        tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "orders.json"
    path.write_text(text)
    with caplog.at_level(logging.ERROR, logger="ats.broker.order_store"):
        assert OrderStore(path).load() == {}
    assert not path.exists()
    assert (tmp_path / "orders.json.corrupt").read_text() == text
    [record] = caplog.records
    assert f"{path}: cannot read the order history" in record.getMessage()
    assert "orders.json.corrupt" in record.getMessage()
    with pytest.raises(ValueError, match="cannot read the order history"):
        order_store.read(tmp_path / "orders.json.corrupt")


def test_a_full_disk_is_logged_once_and_the_rows_are_written_when_space_is_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "orders.json"
    store = saved(path, rows(1))
    real_write = os.write

    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    current = {**rows(1), **rows(2)}
    monkeypatch.setattr(os, "write", full)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(store.run(lambda: current, stop, interval=0.02))
        store.mark_dirty()
        await asyncio.sleep(0.2)  # several ticks on a full disk
        assert not task.done()
        # between a tick's take and its failed write the rows are in flight, not dirty
        for _ in range(100):
            if store.dirty and store.error is not None:
                break
            await asyncio.sleep(0.005)
        assert store.dirty and store.error is not None
        monkeypatch.setattr(os, "write", real_write)
        for _ in range(100):
            if not store.dirty:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    with caplog.at_level(logging.WARNING, logger="ats.broker.order_store"):
        asyncio.run(scenario())
    assert order_store.read(path) == current
    assert not list(tmp_path.glob("*.tmp"))  # no half-written copy left taking space
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "No space left on device" in errors[0].getMessage()
    assert store.error is None


def test_a_write_that_fails_keeps_the_previous_file_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "orders.json"
    store = saved(path, rows(1))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    store.mark_dirty()
    assert store.save(rows(1, 2)) is False
    assert store.dirty
    assert json.loads(path.read_text())["orders"] == rows(1)


def test_the_venues_report_wins_where_it_says_something() -> None:
    stored = row(1, status="Submitted", filled=3.0, avg_price=500.0)
    venue = row(1, status="Filled", filled=10.0, avg_price=501.25, client_id=11)
    assert order_store.merge(stored, venue) == venue
    assert order_store.merge(None, venue) == venue


def test_a_completed_order_keeps_its_stored_fills_price_and_client_id() -> None:
    stored = row(1, reason="kept too")
    # reqCompletedOrders: the status and filledQuantity, but no average price nor clientId
    completed = row(1, filled=10.0, avg_price=None, client_id=0)
    assert order_store.merge(stored, completed) == stored
    # an open order's first report at a reconnect comes before its orderStatus
    partial = row(2, status="Submitted", filled=4.0, avg_price=499.5)
    first = row(2, status="Submitted", filled=0.0, avg_price=None, perm_id=0)
    assert order_store.merge(partial, first) == partial


def test_the_orders_request_selects_by_strategy_and_finished() -> None:
    data = {**rows(1), **rows(2, status="Submitted"),
            "beta|ats:beta:1": row(3, strategy="beta", status="Submitted")}
    assert [r["perm_id"] for r in order_store.select(data)] == [1002, 1003]
    assert [r["perm_id"] for r in order_store.select(data, "alpha", True)] == [1001, 1002]
    assert [r["perm_id"] for r in order_store.select(data, "alpha")] == [1002]


def test_a_write_after_one_row_changed_holds_that_change_and_every_other_row_as_before(
        tmp_path: Path) -> None:
    path = tmp_path / order_store.FILE
    data = rows(1, 2, 3, status="Submitted")
    store = saved(path, data)
    data["alpha|ats:alpha:2"] = row(2, "Filled")
    store.mark_dirty("alpha|ats:alpha:2")
    del data["alpha|ats:alpha:3"]  # dropped from the view
    store.mark_dirty("alpha|ats:alpha:3")
    assert store.save(data)
    assert order_store.read(path) == data
    assert json.loads(path.read_bytes()) == {"version": order_store.VERSION, "orders": data}
