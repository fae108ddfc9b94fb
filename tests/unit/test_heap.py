"""ats/heap.py: what a process freed goes back to the system once its start-up is over.
Measured in a fresh interpreter, so the RSS is that of the test's own allocations."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

FREED_MB = 40  #: freed in blocks below glibc's mmap threshold, so they stay in its heap

CODE = f"""
import os
from ats import heap

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

blocks = [bytearray(2000) for _ in range({FREED_MB} * 2**20 // 2000)]
pinned = bytearray(2000)  # above the blocks: glibc's free alone cannot shrink the heap
del blocks
before = rss_mb()
gave_back = heap.release_freed()
print(gave_back, before - rss_mb())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_freed_returns_the_freed_heap_pages_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         check=True).stdout.split()
    gave_back, dropped_mb = out[0], float(out[1])
    assert gave_back == "True"
    assert dropped_mb > FREED_MB / 2, f"RSS fell by {dropped_mb:.1f} MB of {FREED_MB} MB freed"
