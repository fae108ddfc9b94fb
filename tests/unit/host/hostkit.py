"""A real strategy Host on a temporary ATS_HOME, and the doubles the host's unit tests give
it: a strategy that records its fills and a publisher that records what it sends."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ats import config
from ats.host.main import Host
from ats.sdk import Params, Strategy
from ats.sdk.orders import Fill


class Recorder(Strategy[Params]):
    params_type = Params

    def on_init(self) -> None:
        self.fills: list[Fill] = []

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


class Bus:
    """Stands in for the host's Publisher: keeps (topic, type, body) of each message."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, topic: str, type: str, body: dict[str, Any]) -> int:
        self.sent.append((topic, type, body))
        return len(self.sent)

    def close(self) -> None:
        pass


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
