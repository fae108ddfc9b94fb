"""CPU, resident memory, open file descriptors and threads of a process, by pid (psutil).

CPU % is the process's CPU time (user + system) over the wall time since the previous sample
of the same process (so the first sample has none); 100 % is one core busy. A pid reused by
another process (its start time differs) starts over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import psutil

MB = 1024 * 1024


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    time: float  #: unix seconds of the sample
    started: float  #: unix seconds the process started
    cpu_seconds: float  #: user + system CPU time since it started
    cpu_percent: float | None  #: since the previous sample (None: the first one)
    rss_bytes: int
    threads: int
    num_fds: int | None  #: open file descriptors (None where the OS does not tell)
    max_fds: int | None  #: its soft limit of open files (None: unknown or unlimited)

    @property
    def rss_mb(self) -> float:
        return round(self.rss_bytes / MB, 1)

    @property
    def age(self) -> float:
        return max(0.0, self.time - self.started)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rss_mb": self.rss_mb}


def _fd_limit(proc: psutil.Process) -> int | None:
    try:
        soft, _hard = proc.rlimit(psutil.RLIMIT_NOFILE)  # type: ignore[attr-defined]
    except (AttributeError, psutil.Error, OSError):
        return None
    return None if soft < 0 or soft == psutil.RLIM_INFINITY else int(soft)  # type: ignore[attr-defined]


class Sampler:
    """Samples processes by pid, keeping what CPU % needs between two samples."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        #: pid -> (its psutil handle, the previous sample)
        self._seen: dict[int, tuple[psutil.Process, ProcessSample | None]] = {}

    def sample(self, pid: int) -> ProcessSample | None:
        """One sample of ``pid``, or None when it is gone or may not be looked at."""
        if pid <= 0:
            return None
        try:
            proc, previous = self._seen.get(pid) or (psutil.Process(pid), None)
            with proc.oneshot():
                started = proc.create_time()
                if previous is not None and previous.started != started:
                    proc, previous = psutil.Process(pid), None  # the pid was reused
                    started = proc.create_time()
                times = proc.cpu_times()
                rss = proc.memory_info().rss
                threads = proc.num_threads()
                try:
                    fds: int | None = proc.num_fds()
                except (AttributeError, psutil.AccessDenied):
                    fds = None
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            self._seen.pop(pid, None)
            return None
        now = self.clock()
        cpu = float(times.user + times.system)
        percent = None
        if previous is not None and now > previous.time:
            percent = round(max(0.0, cpu - previous.cpu_seconds) / (now - previous.time)
                            * 100.0, 1)
        sample = ProcessSample(pid=pid, time=now, started=started, cpu_seconds=round(cpu, 3),
                               cpu_percent=percent, rss_bytes=int(rss), threads=int(threads),
                               num_fds=fds, max_fds=_fd_limit(proc))
        self._seen[pid] = (proc, sample)
        return sample

    def forget(self, keep: Iterable[int]) -> None:
        """Drop what is kept of every pid but these (processes that ended)."""
        wanted = set(keep)
        for pid in list(self._seen):
            if pid not in wanted:
                del self._seen[pid]
