"""An append-only JSON-lines journal: the broker's write-ahead logs (intents, the ledger's
unflushed records) are each one.

A record is wholly in the file or not at all: a write that fails part-way is cut back off, and
a torn last line (the machine stopped mid-write) is skipped when the file is read, and cut off
unless it is opened read-only. A torn line anywhere else is corruption, and reading fails.
``sync`` fsyncs a duplicate of the descriptor, so a caller need not hold its own lock (the one
its writers wait on) through the disk's latency.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ats.atomicfile import atomic_write

log = logging.getLogger(__name__)


def encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


class Journal:
    def __init__(self, path: Path, what: str, *, read_only: bool = False) -> None:
        """`what` names the journal in log lines ("intent log", "ledger journal")."""
        self.path, self.what, self.read_only = path, what, read_only
        self._fd = -1
        self.size = 0

    def read(self) -> list[dict[str, Any]]:
        """Every whole record, in order; then (unless read-only) the file opened for appends."""
        raw = self.path.read_bytes() if self.path.exists() else b""
        lines = raw.split(b"\n")
        out: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                if i != len(lines) - 1:
                    raise ValueError(f"{self.what} {self.path}: line {i + 1} is not JSON") \
                        from None
                log.warning("%s %s: ignoring truncated last line (%d bytes)", self.what,
                            self.path, len(line))
                raw = raw[: len(raw) - len(line)]
                if not self.read_only:
                    with open(self.path, "r+b") as f:
                        f.truncate(len(raw))
                        os.fsync(f.fileno())
        if not self.read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self.size = len(raw)
        return out

    def append(self, record: dict[str, Any], *, sync: bool) -> None:
        """Write one record (fsync'd when `sync`); on OSError nothing of it stays."""
        if self._fd < 0:
            raise PermissionError(f"{self.what} {self.path} is not open for writing")
        data = encode(record)
        try:
            self._write(data)
            if sync:
                os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, self.size)
            except OSError:
                log.exception("%s %s: could not cut off a partial record", self.what,
                              self.path)
            raise
        self.size += len(data)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def sync(self) -> None:
        """fsync what was appended so far. Safe against a concurrent rewrite or close: the
        duplicate descriptor stays valid, and syncing a replaced file does no harm."""
        if self._fd < 0:
            return
        try:
            fd = os.dup(self._fd)
        except OSError:  # closed meanwhile
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the whole file with `records`, atomically."""
        data = b"".join(encode(r) for r in records)
        self.close()
        atomic_write(self.path, data)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.size = len(data)

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
