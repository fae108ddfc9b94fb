"""A real strategy Host on a temporary ATS_HOME, for the host's unit tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ats import config
from ats.host.main import Host


@contextmanager
def temp_host(name: str, overrides: dict[str, Any] | None = None) -> Iterator[Host]:
    """A Host named `name` (its sockets are never bound); closed and its home removed after."""
    home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    h = Host(config.init_home(home, overrides), name)
    try:
        yield h
    finally:
        h.publisher.close()
        h.zctx.destroy(linger=0)
        h.sync_zctx.destroy(linger=0)
        shutil.rmtree(home, ignore_errors=True)
