"""One system per ATS_HOME: an exclusive lock a singleton process holds for its lifetime.

The hub, the manager and the broker each take ``run/<name>.lock`` (in the 0700 run folder)
before they bind a socket or open a store, and write their pid into it. A second instance on
the same ATS_HOME cannot take the lock and exits at once, naming the holder. The lock is a
``flock``: the kernel drops it when the holder exits, however it exits (kill -9 included), so
a stale lock file never blocks a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType


class LockHeld(Exception):
    """Another process holds the lock at ``path``; ``pid`` is its pid (None if unreadable)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path, self.pid = path, pid
        holder = f"pid {pid}" if pid is not None else "another process"
        super().__init__(f"{path} is held by {holder}")


def holder_pid(path: Path) -> int | None:
    """The pid written in a lock file, or None when there is none (or it is not a number)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``path`` that holds this process's pid.

    ``acquire()`` raises LockHeld at once when another open file (this process or another)
    holds it. The file stays when released: only the lock, not the file, says who runs.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        # os.open gives a non-inheritable descriptor: a child started with exec does not
        # keep the lock alive after this process is gone.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self.path, holder_pid(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        pid = f"{os.getpid()}\n".encode()
        os.pwrite(fd, pid, 0)
        os.ftruncate(fd, len(pid))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no stale pid for the next reader
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> RunLock:
        return self if self.held else self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
