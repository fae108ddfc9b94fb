"""README: "A full disk on the journal refuses new orders (ledger storage failing) rather than
trading without a record."

A real Broker (ledger store on LMDB, intent log, group commit; no sockets, no venue) whose
journal or intent-log write or fsync fails with ENOSPC: its approval is refused with a reason
naming the storage failure, and no intent is left approved, in memory or on disk."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_testkit import (
    FakePublisher,
    approve_params,
    broker_in,
    decide,
    fill,
    intent,
    venue_fill,
)

from ats.broker.intents import IntentLog, IntentStatus
from ats.broker.journal import Journal
from ats.broker.main import Broker

pytestmark = pytest.mark.timeout(60)

def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    with broker_in(tmp_path / "home", monkeypatch) as b:
        yield b


def approve(broker: Broker, **kw: Any) -> dict[str, Any]:
    return decide(broker, approve_params(**kw))


def on_disk(broker: Broker) -> IntentLog:
    """The intent log as a restarted broker would read it."""
    return IntentLog(broker.intents.path)


def fails_for(path: Path, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real` (os.write or os.fsync), failing with ENOSPC for the file at `path` only."""
    def call(fd: int, *args: Any) -> Any:
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            raise enospc()
        return real(fd, *args)
    return call


def assert_refused_for_storage(decision: dict[str, Any]) -> None:
    assert decision["approved"] is False
    assert decision["code"] == "storage"
    assert decision["reason"].startswith("ledger storage failing (")
    assert decision["reason"].endswith("): orders refused")
    assert "No space left on device" in decision["reason"]
    assert "order_ref" not in decision and "intent_id" not in decision


def assert_no_intent_approved(broker: Broker) -> None:
    assert broker.intents.unresolved() == []
    with on_disk(broker) as log:
        assert log.unresolved() == []
        assert all(r.status is not IntentStatus.PENDING for r in log.records())
    assert broker.m_orders({"all": True}) == []  # no order shown as Approved


def test_with_room_on_disk_an_order_is_approved_and_its_intent_is_on_disk(
        broker: Broker) -> None:
    decision = approve(broker)
    assert decision["approved"] is True
    with on_disk(broker) as log:
        assert [r.intent.order_ref for r in log.unresolved()] == [decision["order_ref"]]


def test_a_full_ledger_journal_refuses_new_orders_naming_the_storage_failure(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self: Journal, data: bytes) -> None:
        raise enospc()

    monkeypatch.setattr(Journal, "_write", disk_full)
    e = fill("BOT", 5, 100.0, ref="ats:alpha:1")
    broker.record_fill(venue_fill(e))
    # not applied without its record (the venue keeps it for the sweep at the next start)
    assert not broker.ledger.has_execution(e.exec_id)
    publisher = broker.publisher
    assert isinstance(publisher, FakePublisher)
    [alert] = publisher.bodies("alert")
    assert alert["level"] == "CRITICAL" and "ledger storage full" in alert["message"]

    decision = approve(broker)
    assert_refused_for_storage(decision)
    assert broker.intents.records() == []
    assert_no_intent_approved(broker)


def test_with_sync_approvals_a_failed_intent_fsync_refuses_the_order_leaving_no_pending_intent(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    broker.sync_approvals = True
    monkeypatch.setattr(os, "fsync", fails_for(broker.intents.path, os.fsync))
    decision = approve(broker)
    assert_refused_for_storage(decision)
    [rec] = broker.intents.records()  # written, never synced: resolved as refused
    assert rec.status is IntentStatus.REJECTED
    assert "intent log not synced" in rec.info["reason"]
    assert_no_intent_approved(broker)


def test_after_a_storage_failure_later_orders_are_refused_without_writing(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    broker.sync_approvals = True
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", fails_for(broker.intents.path, os.fsync))
        assert_refused_for_storage(approve(broker))
    size = broker.intents.path.stat().st_size
    # the disk has room again, but the broker does not trade on a log that failed
    decision = approve(broker, side="SELL", quantity=1)
    assert_refused_for_storage(decision)
    assert broker.intents.path.stat().st_size == size
    assert_no_intent_approved(broker)


def test_an_intent_log_fsync_failing_after_an_answered_approval_refuses_the_orders_after_it(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without sync_approvals the approval is answered once written: it stands (a crash of
    the process cannot lose it), and the failed background fsync refuses every later order."""
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", fails_for(broker.intents.path, os.fsync))
        decision = approve(broker)
        assert decision["approved"] is True
        deadline = time.monotonic() + 10
        while broker.storage_error is None and time.monotonic() < deadline:
            time.sleep(0.01)
    with on_disk(broker) as log:
        assert [r.intent.order_ref for r in log.unresolved()] == [decision["order_ref"]]
    assert_refused_for_storage(approve(broker, side="SELL", quantity=1))


def test_an_intent_log_write_failing_for_a_full_disk_refuses_the_order(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(os, "write", fails_for(broker.intents.path, os.write))
        decision = approve(broker)
    assert_refused_for_storage(decision)
    assert broker.intents.records() == []
    assert_no_intent_approved(broker)


def test_a_half_written_intent_record_is_cut_off_and_the_log_stays_readable(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    before = broker.intents.path.read_bytes()
    real_write = os.write
    path = broker.intents.path

    def half_then_full(fd: int, data: Any) -> int:
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            if len(data) > 1:
                return real_write(fd, bytes(data[: len(data) // 2]))
            raise enospc()
        return real_write(fd, data)

    with monkeypatch.context() as m:
        m.setattr(os, "write", half_then_full)
        decision = approve(broker)
    assert_refused_for_storage(decision)
    assert path.read_bytes() == before  # no partial record left behind
    # a later record starts on a line of its own, so a restart reads it
    broker.intents.approve(intent(intent_id=99))
    with on_disk(broker) as log:
        assert [r.intent.intent_id for r in log.records()] == [99]

