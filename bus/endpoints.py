"""Where the bus sockets live: ipc sockets in a private (0700) run folder, or loopback TCP."""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bus.errors import BusError

IPC_PATH_MAX = 107  # sun_path limit on Linux, minus the NUL
PORT_OFFSETS = {"publish": 0, "subscribe": 1, "manager": 2, "broker": 3, "agents": 4}
_FIELDS = tuple(PORT_OFFSETS)


def ensure_private_dir(run_dir: Path) -> Path:
    """Create ``run_dir`` with mode 0700; tighten an existing one we own, refuse otherwise."""
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = run_dir.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise BusError(f"run folder {run_dir} is not a directory")
    if st.st_mode & 0o077:
        if st.st_uid != os.getuid():
            raise BusError(
                f"run folder {run_dir} is group/world accessible and not ours to chmod"
            )
        run_dir.chmod(0o700)
    return run_dir


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening(endpoint: str, timeout: float = 0.5) -> bool:
    """True when something accepts connections at an ``ipc://`` or ``tcp://`` endpoint.

    ZeroMQ connects lazily and would wait out a request's whole timeout for a service that is
    not there; a plain connect answers at once (a stale ipc file is refused)."""
    scheme, _, address = endpoint.partition("://")
    try:
        if scheme == "ipc":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(address)
        elif scheme == "tcp":
            host, _, port = address.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                pass
        else:
            raise BusError(f"cannot probe endpoint {endpoint!r}")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Endpoints:
    publish: str  # hub XSUB side: publishers connect here
    subscribe: str  # hub XPUB side: subscribers connect here
    manager: str  # manager ROUTER
    broker: str  # broker ROUTER
    #: the manager's ROUTER that other hosts' agents dial (DEALER): requests go out through it
    agents: str = ""

    @classmethod
    def ipc(cls, run_dir: Path) -> Endpoints:
        run_dir = ensure_private_dir(Path(run_dir).absolute())
        paths = {
            "publish": run_dir / "bus-pub.sock",
            "subscribe": run_dir / "bus-sub.sock",
            "manager": run_dir / "manager.sock",
            "broker": run_dir / "broker.sock",
            "agents": run_dir / "agents.sock",
        }
        for path in paths.values():
            if len(str(path)) > IPC_PATH_MAX:
                raise BusError(f"ipc path {path} is longer than {IPC_PATH_MAX} characters")
        return cls(**{k: f"ipc://{p}" for k, p in paths.items()})

    @classmethod
    def tcp(
        cls, host: str = "127.0.0.1", base_port: int = 5550, *, allow_remote: bool = False
    ) -> Endpoints:
        if not allow_remote and not is_loopback(host):
            raise BusError(f"refusing non-loopback bus host {host!r} (allow_remote=False)")
        if not 0 < base_port <= 65535 - len(PORT_OFFSETS):
            raise BusError(f"bad base_port {base_port}")
        url_host = f"[{host}]" if ":" in host else host
        return cls(
            **{k: f"tcp://{url_host}:{base_port + off}" for k, off in PORT_OFFSETS.items()}
        )

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], run_dir: Path) -> Endpoints:
        """Read a config table: ``{transport = "ipc"|"tcp", host, base_port, allow_remote}``.

        Explicit ``publish``/``subscribe``/``manager``/``broker`` keys override single
        endpoints (so ``from_mapping(e.to_mapping(), run_dir) == e``).
        """
        transport = d.get("transport", "ipc")
        base: Endpoints
        if transport == "ipc":
            base = cls.ipc(run_dir)
        elif transport == "tcp":
            base = cls.tcp(
                str(d.get("host", "127.0.0.1")),
                int(d.get("base_port", 5550)),
                allow_remote=bool(d.get("allow_remote", False)),
            )
        else:
            raise BusError(f"unknown bus transport {transport!r} (want 'ipc' or 'tcp')")
        overrides = {k: str(d[k]) for k in _FIELDS if k in d}
        if overrides:
            base = cls(**{**asdict(base), **overrides})
        return base

    def to_mapping(self) -> dict[str, str]:
        transport = "ipc" if self.publish.startswith("ipc://") else "tcp"
        return {"transport": transport, **asdict(self)}
