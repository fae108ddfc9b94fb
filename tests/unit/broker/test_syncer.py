"""The durability contract of the broker's group commit (ats/broker/syncer.py), with real
files and os.fsync counted (and held, where a test needs a flush in progress):

- `synced(request())` returns only after an fsync that began after the record was written;
- records written while one fsync runs share the next one (one fsync per file per group);
- the fsync runs on the syncer's thread, never on the event loop;
- a failed fsync is reported to `on_error`, then raised in every waiter of its group, and
  does not count as a sync; a ticket whose flush failed stays failed, even when asked after
  the failure or after a later fsync succeeded;
- `close()` syncs what was written before it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_testkit import intent

from ats.broker.intents import IntentLog
from ats.broker.syncer import BackgroundSync

pytestmark = pytest.mark.timeout(60)

WAIT = 20.0  #: generous: the machine may be loaded


class Fsyncs:
    """os.fsync, counted per file; `hold()` makes later fsyncs wait until `release()`, and
    `fail()` makes them raise."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._real = os.fsync
        self.calls: list[tuple[int, int]] = []  #: (fd, thread ident) of each fsync
        self._cond = threading.Condition()
        self._allowed: int | None = None  #: fsyncs (by order of call) let through; None: all
        self._error: OSError | None = None
        self._failing: Path | None = None  #: the file whose fsyncs fail; None: every file
        monkeypatch.setattr(os, "fsync", self)

    def hold(self) -> None:
        """Fsyncs called from now on wait for `release()`."""
        with self._cond:
            self._allowed = len(self.calls)

    def release(self, n: int | None = None) -> None:
        """Let the next `n` held fsyncs through (all of them, and stop holding, if None)."""
        with self._cond:
            if n is None or self._allowed is None:
                self._allowed = None
            else:
                self._allowed += n
            self._cond.notify_all()

    def fail(self, error: OSError | None, path: Path | None = None) -> None:
        """Fsyncs (of the file at `path` only, if given) raise `error` from now on (None:
        succeed again)."""
        self._error, self._failing = error, path

    def count(self, fd: int) -> int:
        return sum(1 for f, _ in self.calls if f == fd)

    def began(self, n: int) -> bool:
        """Wait (blocking) until `n` fsyncs have begun in all."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= n, WAIT)

    def __call__(self, fd: int) -> None:
        with self._cond:
            self.calls.append((fd, threading.get_ident()))
            mine = len(self.calls)
            self._cond.notify_all()
            if not self._cond.wait_for(
                    lambda: self._allowed is None or mine <= self._allowed, WAIT):
                raise AssertionError("an fsync was held and never released")
            error = self._error if self._failing is None or os.path.samestat(
                os.fstat(fd), os.stat(self._failing)) else None
        if error is not None:
            raise error
        self._real(fd)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fsyncs]:
    fs = Fsyncs(monkeypatch)
    yield fs
    fs.release()  # never leave the syncer's thread waiting


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[int]:
    """A raw append-only journal file, as the ledger's."""
    fd = os.open(tmp_path / "journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    yield fd
    os.close(fd)


def write(fd: int, line: str) -> None:
    os.write(fd, line.encode() + b"\n")


async def began(fs: Fsyncs, n: int) -> None:
    assert await asyncio.to_thread(fs.began, n), f"fsync number {n} never began"


def test_synced_returns_only_after_an_fsync_that_began_after_the_write(
        fsyncs: Fsyncs, journal: int) -> None:
    async def go() -> None:
        sync = BackgroundSync([lambda: os.fsync(journal)])
        try:
            fsyncs.hold()
            write(journal, "approve 1")
            waiter = asyncio.ensure_future(sync.synced(sync.request()))
            await began(fsyncs, 1)
            await asyncio.sleep(0)  # give the waiter every chance to finish early
            assert not waiter.done()  # the fsync has begun, not returned: not yet durable
            fsyncs.release()
            await asyncio.wait_for(waiter, WAIT)
            assert fsyncs.count(journal) == 1
            assert sync.syncs == 1
        finally:
            sync.close()

    asyncio.run(go())


def test_a_record_written_during_an_fsync_waits_for_the_next_one(
        fsyncs: Fsyncs, journal: int) -> None:
    async def go() -> None:
        sync = BackgroundSync([lambda: os.fsync(journal)])
        try:
            fsyncs.hold()
            write(journal, "approve 1")
            first = asyncio.ensure_future(sync.synced(sync.request()))
            await began(fsyncs, 1)
            write(journal, "approve 2")  # after the running fsync began
            second = asyncio.ensure_future(sync.synced(sync.request()))
            fsyncs.release(1)  # the first fsync ends ...
            await asyncio.wait_for(first, WAIT)
            await began(fsyncs, 2)  # ... the second begins, and is held
            await asyncio.sleep(0)
            assert not second.done()  # the first fsync did not cover record 2
            fsyncs.release()
            await asyncio.wait_for(second, WAIT)
            assert fsyncs.count(journal) == 2
        finally:
            sync.close()

    asyncio.run(go())


def test_records_written_during_one_fsync_share_the_next_one_per_file(
        fsyncs: Fsyncs, journal: int, tmp_path: Path) -> None:
    async def go() -> None:
        with IntentLog(tmp_path / "intents.jsonl") as log:
            sync = BackgroundSync([lambda: os.fsync(journal), log.flush])
            try:
                fsyncs.hold()
                write(journal, "fill 0")
                sync.request()
                await began(fsyncs, 1)  # a group commit is in progress, held
                waiters = []
                for i in range(1, 41):
                    log.approve(intent(intent_id=i), durable=False)
                    write(journal, f"fill {i}")
                    waiters.append(asyncio.ensure_future(sync.synced(sync.request())))
                fsyncs.release()
                await asyncio.wait_for(asyncio.gather(*waiters), WAIT)
                # 41 requests, two group commits: the 40 shared the second one
                assert fsyncs.count(journal) == 2
                assert len(fsyncs.calls) == 4  # the journal's and the intent log's, twice
                assert sync.syncs == 2
            finally:
                sync.close()

    asyncio.run(go())


def test_a_synced_ticket_returns_at_once_without_another_fsync(
        fsyncs: Fsyncs, journal: int) -> None:
    async def go() -> None:
        sync = BackgroundSync([lambda: os.fsync(journal)])
        try:
            write(journal, "approve 1")
            ticket = sync.request()
            await asyncio.wait_for(sync.synced(ticket), WAIT)
            calls = len(fsyncs.calls)
            fsyncs.hold()  # an fsync now would hang the wait below
            await asyncio.wait_for(sync.synced(ticket), WAIT)
            assert len(fsyncs.calls) == calls
        finally:
            fsyncs.release()
            sync.close()

    asyncio.run(go())


def test_the_fsync_runs_off_the_event_loop_thread(fsyncs: Fsyncs, journal: int) -> None:
    async def go() -> None:
        sync = BackgroundSync([lambda: os.fsync(journal)])
        try:
            write(journal, "approve 1")
            await asyncio.wait_for(sync.synced(sync.request()), WAIT)
            assert fsyncs.calls
            assert all(thread != threading.get_ident() for _, thread in fsyncs.calls)
        finally:
            sync.close()

    asyncio.run(go())


def test_a_failed_fsync_is_raised_in_every_waiter_of_its_group_and_reported(
        fsyncs: Fsyncs, journal: int) -> None:
    async def go() -> None:
        errors: list[OSError] = []
        sync = BackgroundSync([lambda: os.fsync(journal)], on_error=errors.append)
        try:
            fsyncs.fail(OSError(errno.ENOSPC, "No space left on device"))
            waiters = [asyncio.ensure_future(sync.synced(sync.request())) for _ in range(3)]
            results = await asyncio.wait_for(
                asyncio.gather(*waiters, return_exceptions=True), WAIT)
            assert [type(r) for r in results] == [OSError] * 3
            assert [r.errno for r in results] == [errno.ENOSPC] * 3  # type: ignore[union-attr]
            assert errors and {e.errno for e in errors} == {errno.ENOSPC}
            assert sync.syncs == 0  # a failed fsync is not a sync
        finally:
            sync.close()

    asyncio.run(go())


def test_a_failed_fsync_is_reported_before_any_waiter_hears_of_it(
        fsyncs: Fsyncs, journal: int) -> None:
    # the broker's on_error marks its storage failing: an approval refused for the failure
    # must find it marked, so that the next approval is refused without writing
    async def go() -> None:
        reporting, reported = threading.Event(), threading.Event()
        errors: list[OSError] = []

        def on_error(exc: OSError) -> None:
            reporting.set()
            assert reported.wait(WAIT)
            errors.append(exc)

        sync = BackgroundSync([lambda: os.fsync(journal)], on_error=on_error)
        try:
            fsyncs.fail(OSError(errno.ENOSPC, "No space left on device"))
            waiter = asyncio.ensure_future(sync.synced(sync.request()))
            assert await asyncio.to_thread(reporting.wait, WAIT)
            await asyncio.sleep(0)
            assert not waiter.done()  # the error is being reported: the waiter still waits
            reported.set()
            with pytest.raises(OSError, match="No space left"):
                await asyncio.wait_for(waiter, WAIT)
            assert [e.errno for e in errors] == [errno.ENOSPC]
        finally:
            reported.set()
            sync.close()

    asyncio.run(go())


def test_a_flush_that_failed_before_synced_was_called_is_still_raised(
        fsyncs: Fsyncs, journal: int) -> None:
    # the fsync thread may fail a ticket's flush before its waiter has registered
    async def go() -> None:
        sync = BackgroundSync([lambda: os.fsync(journal)])
        fsyncs.fail(OSError(errno.ENOSPC, "No space left on device"))
        ticket = sync.request()
        sync.close()  # every flush is over, and failed, before synced() below
        with pytest.raises(OSError, match="No space left"):
            await asyncio.wait_for(sync.synced(ticket), WAIT)

    asyncio.run(go())


def test_a_later_successful_fsync_does_not_make_a_failed_ticket_durable(
        fsyncs: Fsyncs, journal: int) -> None:
    # after a failed fsync the kernel may have dropped those pages: a later fsync that
    # succeeds says nothing about them
    async def go() -> None:
        sync = BackgroundSync([lambda: os.fsync(journal)])
        try:
            fsyncs.fail(OSError(errno.EIO, "Input/output error"))
            failed = sync.request()
            with pytest.raises(OSError):
                await asyncio.wait_for(sync.synced(failed), WAIT)
            fsyncs.fail(None)
            await asyncio.wait_for(sync.synced(sync.request()), WAIT)  # a new record: durable
            with pytest.raises(OSError, match="Input/output error"):
                await asyncio.wait_for(sync.synced(failed), WAIT)
        finally:
            sync.close()

    asyncio.run(go())


def test_a_failed_fsync_of_any_one_file_fails_the_group(
        fsyncs: Fsyncs, journal: int, tmp_path: Path) -> None:
    async def go() -> None:
        with IntentLog(tmp_path / "intents.jsonl") as log:
            errors: list[OSError] = []
            sync = BackgroundSync([lambda: os.fsync(journal), log.flush],
                                  on_error=errors.append)
            try:
                write(journal, "fill 1")
                log.approve(intent(intent_id=1), durable=False)
                fsyncs.fail(OSError(errno.EIO, "Input/output error"), log.path)
                with pytest.raises(OSError, match="Input/output error"):
                    await asyncio.wait_for(sync.synced(sync.request()), WAIT)
                assert fsyncs.count(journal) == 1  # the journal's own fsync succeeded
                assert [e.errno for e in errors] == [errno.EIO]
                assert sync.syncs == 0
            finally:
                sync.close()

    asyncio.run(go())


def test_close_syncs_what_was_written_before_it(fsyncs: Fsyncs, journal: int) -> None:
    sync = BackgroundSync([lambda: os.fsync(journal)])
    write(journal, "fill 1")  # no request: close() alone must make it durable
    sync.close()
    assert fsyncs.count(journal) == 1
    assert sync.syncs == 1
