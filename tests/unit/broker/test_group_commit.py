"""The broker's group commit: an approval is on disk before its reply, and concurrent records
share one fsync."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ats.broker.syncer import BackgroundSync


class GatedFlush:
    """A flush that counts its calls and, while `gate` is clear, blocks until it is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.fail: OSError | None = None

    def __call__(self) -> None:
        self.calls += 1
        self.started.set()
        assert self.gate.wait(10)
        if self.fail is not None:
            raise self.fail


async def wait_thread(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10)


def test_a_ticket_waits_for_a_flush_that_began_after_it() -> None:
    async def go() -> None:
        flush = GatedFlush()
        sync = BackgroundSync([flush])
        try:
            flush.gate.clear()
            sync.request()  # a flush begins, and blocks
            await wait_thread(flush.started)
            waiter = asyncio.ensure_future(sync.synced(sync.request()))  # issued during it
            flush.gate.set()  # the first flush ends: it did not cover the ticket
            await asyncio.wait_for(waiter, 10)
            assert flush.calls == 2
        finally:
            sync.close()

    asyncio.run(go())


def test_records_written_together_share_one_fsync() -> None:
    async def go() -> None:
        flush = GatedFlush()
        sync = BackgroundSync([flush])
        try:
            flush.gate.clear()
            sync.request()
            await wait_thread(flush.started)
            tickets = [sync.request() for _ in range(50)]  # all while the first one runs
            waiters = [asyncio.ensure_future(sync.synced(t)) for t in tickets]
            flush.gate.set()
            await asyncio.wait_for(asyncio.gather(*waiters), 10)
            assert flush.calls == 2  # the 50 shared the second flush
        finally:
            sync.close()

    asyncio.run(go())


def test_a_failed_flush_fails_its_waiters_and_reports_the_error() -> None:
    async def go() -> None:
        flush = GatedFlush()
        errors: list[OSError] = []
        sync = BackgroundSync([flush], on_error=errors.append)
        try:
            flush.fail = OSError(28, "No space left on device")
            with pytest.raises(OSError, match="No space left"):
                await asyncio.wait_for(sync.synced(sync.request()), 10)
            assert [e.errno for e in errors] == [28]
            flush.fail = None  # space again: the next ticket is served
            await asyncio.wait_for(sync.synced(sync.request()), 10)
        finally:
            sync.close()

    asyncio.run(go())
