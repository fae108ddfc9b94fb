"""One ``arcticdb.Arctic`` per URI per process, and libraries created on first use."""

from __future__ import annotations

import os
from typing import Any

_instances: dict[tuple[int, str], Any] = {}


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
