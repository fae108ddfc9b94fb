from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
import zmq

from bus.endpoints import Endpoints, listening
from bus.errors import BusError


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_ipc_creates_private_run_dir(run_dir: Path) -> None:
    eps = Endpoints.ipc(run_dir)
    assert mode(run_dir) == 0o700
    assert eps.publish == f"ipc://{run_dir}/bus-pub.sock"
    assert eps.subscribe == f"ipc://{run_dir}/bus-sub.sock"
    assert eps.manager.startswith("ipc://") and eps.broker.startswith("ipc://")


def test_ipc_tightens_an_existing_open_dir(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    os.chmod(run_dir, 0o755)
    Endpoints.ipc(run_dir)
    assert mode(run_dir) == 0o700


def test_ipc_refuses_too_long_paths(run_dir: Path) -> None:
    with pytest.raises(BusError):
        Endpoints.ipc(run_dir / ("x" * 120))


def test_tcp_uses_consecutive_loopback_ports() -> None:
    eps = Endpoints.tcp(base_port=6000)
    assert (eps.publish, eps.subscribe, eps.manager, eps.broker) == (
        "tcp://127.0.0.1:6000", "tcp://127.0.0.1:6001",
        "tcp://127.0.0.1:6002", "tcp://127.0.0.1:6003",
    )
    assert Endpoints.tcp("::1", 7000).manager == "tcp://[::1]:7002"


def test_tcp_refuses_remote_host_unless_allowed() -> None:
    with pytest.raises(BusError):
        Endpoints.tcp("10.0.0.5")
    with pytest.raises(BusError):
        Endpoints.tcp("0.0.0.0")
    assert Endpoints.tcp("10.0.0.5", allow_remote=True).publish == "tcp://10.0.0.5:5550"


def test_from_mapping_reads_transport_table(run_dir: Path) -> None:
    assert Endpoints.from_mapping({}, run_dir) == Endpoints.ipc(run_dir)
    tcp = Endpoints.from_mapping({"transport": "tcp", "base_port": 7100}, run_dir)
    assert tcp == Endpoints.tcp(base_port=7100)
    with pytest.raises(BusError):
        Endpoints.from_mapping({"transport": "udp"}, run_dir)


def test_to_mapping_round_trips(run_dir: Path) -> None:
    for eps in (Endpoints.ipc(run_dir), Endpoints.tcp(base_port=7200)):
        assert Endpoints.from_mapping(eps.to_mapping(), run_dir) == eps
    assert Endpoints.tcp().to_mapping()["transport"] == "tcp"


def test_listening_tells_a_bound_endpoint_from_a_missing_or_stale_one(tmp_path: Path) -> None:
    ctx = zmq.Context()
    path = tmp_path / "svc.sock"
    assert not listening(f"ipc://{path}")  # no file
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nothing listens: as after a kill -9
    assert path.exists() and not listening(f"ipc://{path}")
    path.unlink()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    try:
        router.bind(f"ipc://{path}")
        assert listening(f"ipc://{path}")
        port = router.bind_to_random_port("tcp://127.0.0.1")
        assert listening(f"tcp://127.0.0.1:{port}")
    finally:
        router.close()
        ctx.term()  # the listener is closed when term returns
    assert not listening(f"tcp://127.0.0.1:{port}")
