"""One ``arcticdb.Arctic`` per URI per process, libraries created on first use, and a retry
for reads that race a writer.

Each library has one writer (the registry: the manager; the ledger and the equity curve: the
broker; market data: the data fetch). A reader in another process may race it: the version it
was about to read can be pruned by the writer's next append (``prune_previous_versions``), and
on S3 a listing is eventually consistent, so a symbol may be listed a moment before its
version is readable. Such reads go through ``read_retry``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_instances: dict[tuple[int, str], Any] = {}

#: tries of a read that races a writer, and the first pause between two (doubling: 3.15 s in
#: all, past the ~2 s a Library caches its version map)
READ_ATTEMPTS = 7
READ_BACKOFF_SECONDS = 0.05


def read_retry(read: Callable[[], T], what: str, *, attempts: int = READ_ATTEMPTS,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """``read()``, tried again after a storage error or missing data (a version pruned or not
    yet visible); the last error is raised after ``attempts`` tries."""
    from arcticdb.exceptions import (
        InternalException,
        MissingDataException,
        NoDataFoundException,
        StorageException,
    )

    for attempt in range(1, attempts + 1):
        try:
            return read()
        except (StorageException, NoDataFoundException, MissingDataException,
                InternalException) as exc:
            if attempt == attempts:
                raise
            pause = READ_BACKOFF_SECONDS * 2 ** (attempt - 1)
            log.info("%s: %s: %s; read again in %.2fs", what, type(exc).__name__, exc, pause)
            sleep(pause)
    raise AssertionError("unreachable")


def open_arctic(uri: str) -> Any:
    import arcticdb  # imported late: it is heavy, and only some processes need it

    key = (os.getpid(), uri)
    if key not in _instances:
        if uri.startswith("lmdb://"):
            os.makedirs(uri[len("lmdb://") :].split("?")[0], exist_ok=True)
        _instances[key] = arcticdb.Arctic(uri)
    return _instances[key]


def library(uri: str, name: str) -> Any:
    return open_arctic(uri).get_library(name, create_if_missing=True)
