"""Group commit: fsync journals off the event loop, coalescing requests.

A record is safe from a crash of the process as soon as write() returns (it is in the page
cache); the fsync that makes it safe from a crash of the machine follows within one fsync time,
shared by every record written meanwhile. What a machine crash could still lose, the venue
keeps: executions come back through reqExecutions, and orders by their orderRef.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("ats.broker.sync")


class BackgroundSync:
    def __init__(self, flushes: Sequence[Callable[[], None]],
                 on_error: Callable[[OSError], None] | None = None) -> None:
        self._flushes = list(flushes)
        self._on_error = on_error
        self._wanted = threading.Event()
        self._stop = False
        self.syncs = 0
        self._thread = threading.Thread(target=self._run, name="fsync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self.flush()
            if self._stop:
                return

    def flush(self) -> None:
        try:
            for flush in self._flushes:
                flush()
            self.syncs += 1
        except OSError as exc:
            log.critical("fsync failed: %s", exc)
            if self._on_error is not None:
                self._on_error(exc)

    def close(self) -> None:
        self._stop = True
        self._wanted.set()
        self._thread.join(timeout=10)
