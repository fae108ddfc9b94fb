"""Handing back to the system the memory a process freed during its start-up.

Starting a strategy host (imports, the configuration, connecting, the warm-up) allocates and
frees memory; glibc keeps most freed pages mapped, so they would stay in the process's RSS for
its whole life. A process whose start-up is over calls ``release_freed`` once: a garbage
collection, then glibc's ``malloc_trim(0)``, which returns every free page it can. Where the C
library is not glibc it only collects.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed() -> bool:
    """Collect garbage and return the C heap's free pages; whether any page went back."""
    gc.collect()
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))
