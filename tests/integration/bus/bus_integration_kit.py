"""Helpers for the bus integration tests: free ports and a hub subprocess."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bus.endpoints import Endpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HubProc:
    endpoints: Endpoints
    proc: subprocess.Popen[bytes]

    def alive(self) -> bool:
        return self.proc.poll() is None


def start_hub(eps: Endpoints) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bus.hub", "--frontend", eps.publish, "--backend", eps.subscribe],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def wait_ready(eps: Endpoints, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Wait until the hub has bound both endpoints."""
    end = time.monotonic() + timeout
    for ep in (eps.publish, eps.subscribe):
        while True:
            assert proc.poll() is None, "hub exited during startup"
            assert time.monotonic() < end, f"hub never bound {ep}"
            if ep.startswith("ipc://"):
                if Path(ep[len("ipc://"):]).exists():
                    break
            else:
                host, port = ep[len("tcp://"):].rsplit(":", 1)
                with socket.socket() as s:
                    if s.connect_ex((host, int(port))) == 0:
                        break
            time.sleep(0.02)


def stop_hub(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode
