from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from ats.stats.sampler import Sampler


def test_sampling_this_process_gives_its_memory_files_threads_and_age() -> None:
    # The age is the sampler's clock less the process's start (psutil's, from the kernel):
    # a clock pinned 42 s after that start, not the wall clock, which a test may fake.
    started = psutil.Process(os.getpid()).create_time()
    s = Sampler(clock=lambda: started + 42.0).sample(os.getpid())
    assert s is not None and s.pid == os.getpid()
    assert s.rss_bytes > 10 * 1024 * 1024 and s.rss_mb == round(s.rss_bytes / 2**20, 1)
    assert s.num_fds is not None and s.num_fds >= 3
    assert s.max_fds is None or s.max_fds >= s.num_fds
    assert s.threads >= 1 and s.age == pytest.approx(42.0)
    assert s.cpu_percent is None  # nothing to compare with yet


def test_cpu_percent_is_cpu_time_over_wall_time_since_the_last_sample() -> None:
    now = [1000.0]
    sampler = Sampler(clock=lambda: now[0])
    first = sampler.sample(os.getpid())
    assert first is not None
    began = time.process_time()
    while time.process_time() - began < 0.25:  # burn CPU (the kernel counts in ticks)
        sum(range(200_000))
    now[0] += 2.0  # the fake clock says 2 s passed
    second = sampler.sample(os.getpid())
    assert second is not None and second.cpu_percent is not None
    used = second.cpu_seconds - first.cpu_seconds
    assert used >= 0.2
    assert second.cpu_percent == pytest.approx(used / 2.0 * 100, abs=0.2)


def test_a_thread_more_is_counted() -> None:
    sampler = Sampler()
    before = sampler.sample(os.getpid())
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        after = sampler.sample(os.getpid())
    finally:
        stop.set()
        t.join()
    assert before is not None and after is not None
    assert after.threads == before.threads + 1


def test_a_gone_or_absent_pid_has_no_sample() -> None:
    sampler = Sampler()
    assert sampler.sample(0) is None
    assert sampler.sample(2**22 + 12345) is None  # above Linux's pid_max
