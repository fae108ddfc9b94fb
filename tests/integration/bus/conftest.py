"""Real-socket fixtures: a hub subprocess (`python -m bus.hub`) over ipc or loopback tcp."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from bus_integration_kit import HubProc, free_port, start_hub, stop_hub, wait_ready

from bus.endpoints import Endpoints


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
def run_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="busi-"))
    yield d / "run"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["ipc", "tcp"])
def hub_proc(request: pytest.FixtureRequest, run_dir: Path) -> Iterator[HubProc]:
    if request.param == "ipc":
        eps = Endpoints.ipc(run_dir)
    else:
        eps = Endpoints(
            publish=f"tcp://127.0.0.1:{free_port()}", subscribe=f"tcp://127.0.0.1:{free_port()}",
            manager=f"tcp://127.0.0.1:{free_port()}", broker=f"tcp://127.0.0.1:{free_port()}",
        )
    proc = start_hub(eps)
    try:
        wait_ready(eps, proc)
        yield HubProc(eps, proc)
    finally:
        stop_hub(proc)
