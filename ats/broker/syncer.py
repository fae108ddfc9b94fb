"""Group commit: fsync journals off the event loop, coalescing requests.

A record is safe from a crash of the process as soon as write() returns (it is in the page
cache), and from a crash of the machine once a flush that began after it has returned. Every
`request()` gets a ticket; one flush covers every ticket issued before it began, so records
written meanwhile share one fsync. With [broker] sync_approvals an approval awaits
`synced(ticket)` before its reply: the group commit delays the reply, never the durability.
Otherwise approvals, like fills, do not wait: what a machine crash could lose of them, the
venue keeps (orders by orderRef, executions through reqExecutions at every start).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("ats.broker.sync")
KEEP_FAILED = 1000  #: failed ticket ranges remembered for late callers of synced()


class BackgroundSync:
    def __init__(self, flushes: Sequence[Callable[[], None]],
                 on_error: Callable[[OSError], None] | None = None) -> None:
        self._flushes = list(flushes)
        self._on_error = on_error
        self._wanted = threading.Event()
        self._stop = False
        self.syncs = 0
        self._lock = threading.Lock()
        self._issued = 0  #: tickets handed out
        self._covered = 0  #: every ticket up to this one has had its flush
        #: (after, upto, error): the tickets in (after, upto] whose flush failed
        self._failed: list[tuple[int, int, OSError]] = []
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread = threading.Thread(target=self._run, name="fsync", daemon=True)
        self._thread.start()

    def request(self) -> int:
        """Ask for a flush of what has been written so far; returns its ticket."""
        with self._lock:
            self._issued += 1
            ticket = self._issued
        self._wanted.set()
        return ticket

    async def synced(self, ticket: int) -> None:
        """Return once the records written before `ticket` was issued are on disk; raise the
        OSError of the flush that should have covered them."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if ticket <= self._covered:  # its flush is over, before this call
                for after, upto, error in self._failed:
                    if after < ticket <= upto:
                        raise error
                return
            self._waiters.append((ticket, loop, fut))
        await fut

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self.flush()
            if self._stop:
                return

    def flush(self) -> None:
        with self._lock:
            covering = self._issued
        try:
            for flush in self._flushes:
                flush()
            self.syncs += 1
        except OSError as exc:
            log.critical("fsync failed: %s", exc)
            try:
                if self._on_error is not None:
                    self._on_error(exc)  # first: a waiter told of the failure finds it reported
            finally:
                self._settle(covering, exc)
        else:
            self._settle(covering, None)

    def _settle(self, covering: int, error: OSError | None) -> None:
        with self._lock:
            if covering > self._covered:
                if error is not None:
                    # a caller asks about its ticket right after taking it: recent ones do
                    self._failed = [*self._failed[-(KEEP_FAILED - 1):],
                                    (self._covered, covering, error)]
                self._covered = covering
            done = [w for w in self._waiters if w[0] <= covering]
            self._waiters = [w for w in self._waiters if w[0] > covering]
        for _, loop, fut in done:
            loop.call_soon_threadsafe(_resolve, fut, error)

    def close(self) -> None:
        self._stop = True
        self._wanted.set()
        self._thread.join(timeout=10)


def _resolve(fut: asyncio.Future[None], error: OSError | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)
