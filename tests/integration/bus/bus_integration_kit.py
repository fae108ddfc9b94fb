"""Helpers for the bus integration tests: free ports, a hub subprocess, and waits on
conditions (a probe handshake, a sentinel) instead of fixed sleeps."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bus.codec import Envelope
from bus.endpoints import Endpoints
from bus.subscriber import SyncSubscriber

#: topic of the handshake probes; subscribers in these tests subscribe to it
PROBE = "test.probe."
#: generous bound for every condition wait; a healthy run returns as soon as it holds
WAIT = 30.0

Message = tuple[str, Envelope]


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


def handshake(send_probe: Callable[[], None], sub: SyncSubscriber, source: str,
              timeout: float = WAIT) -> None:
    """Call ``send_probe`` until ``sub`` receives a probe from ``source``. From then on the
    publisher's connection to the hub is up and carries ``sub``'s subscriptions, so nothing
    it sends is lost to the slow joiner. Probes still in flight are skipped by ``recv_until``.
    """
    end = time.monotonic() + timeout
    while True:
        send_probe()
        msg = sub.recv(0.05)
        if msg is not None and msg[0] == PROBE and msg[1].source == source:
            return
        assert time.monotonic() < end, f"no probe from {source!r} came through the hub"


def recv_until(sub: SyncSubscriber, is_last: Callable[[Message], bool],
               timeout: float = WAIT) -> list[Message]:
    """Receive until a message satisfies ``is_last`` (a sentinel sent after the traffic
    under test); return the messages before it, probes left out."""
    got: list[Message] = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        assert left > 0, f"the sentinel never arrived ({len(got)} messages before the wait ran out)"
        msg = sub.recv(left)
        if msg is None:
            continue
        if is_last(msg):
            return got
        if msg[0] != PROBE:
            got.append(msg)
