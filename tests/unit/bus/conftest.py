"""Socket fixtures in the style of pyzmq's own conftest: linger 0, fail on leaked sockets."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from bus.endpoints import Endpoints
from bus.hub import Hub


def _check_closed(ctx: zmq.Context) -> None:  # type: ignore[type-arg]
    leaked = [s for s in list(ctx._sockets) if not s.closed]
    for s in leaked:
        s.close(linger=0)
    ctx.term()
    assert not leaked, f"{len(leaked)} socket(s) left open: {leaked}"


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:  # type: ignore[type-arg]
    c = zmq.Context()
    yield c
    _check_closed(c)


@pytest.fixture
def actx() -> Iterator[zmq.asyncio.Context]:
    c = zmq.asyncio.Context()
    yield c
    _check_closed(c)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    # short path: ipc socket paths are limited to ~107 characters
    d = Path(tempfile.mkdtemp(prefix="bus-"))
    yield d / "run"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def hub(ctx: zmq.Context, run_dir: Path) -> Iterator[Endpoints]:  # type: ignore[type-arg]
    eps = Endpoints.ipc(run_dir)
    h = Hub(ctx, eps.publish, eps.subscribe)
    t = threading.Thread(target=h.run, daemon=True)
    t.start()
    yield eps
    h.stop()
    t.join(5)
    assert not t.is_alive()
