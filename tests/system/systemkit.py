"""Helpers for system tests: a temp ATS_HOME, ats-ctl calls, waiting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
from pinned import SESSION

BIN = Path(sys.executable).parent
#: the test strategy whose orders a test drives through its params (probe_strategy.py)
PROBE = str(Path(__file__).with_name("probe_strategy.py"))
#: risk limits no probe order reaches
LOOSE = {"max_order_qty": 5000, "max_order_notional": 1e9, "max_position": 1e6,
         "max_gross_exposure": 1e10, "max_orders_per_minute": 10000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as exc:  # the thing may not be up yet
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class System:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "ATS_HOME": str(home), "PYTHONUNBUFFERED": "1"}

    def ctl(self, *args: str, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(BIN / "ats-ctl"), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"ats-ctl {' '.join(args)} exited {proc.returncode}: "
                                 f"{proc.stdout}{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.ctl(*args, "--json").stdout)

    def status(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.json("status")}

    def supervisor(self) -> Any:
        from ats.manager.supervisor import Supervisor

        return Supervisor(self.home / "run" / "supervisor.sock")

    def pid_of(self, program: str) -> int:
        return int(self.supervisor().rpc.getProcessInfo(program)["pid"])

    def cfg(self) -> Any:
        from ats import config

        return config.load(self.home)

    def log(self, program: str) -> str:
        path = self.home / "log" / f"{program}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_running(self, names: list[str]) -> bool:
        st = self.status()
        return all(st.get(n, {}).get("state") == "RUNNING" for n in names)


def broker(system: System, method: str, **params: Any) -> Any:
    """One request to the system's broker over its ROUTER (what ats-ctl does)."""
    import zmq

    from bus.client import Requester

    req = Requester(zmq.Context.instance(), system.cfg().endpoints.broker, timeout=10)
    try:
        return req.request(method, params)
    finally:
        req.close()


def make_home(strategies: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> Path:
    # ipc socket paths must stay under 107 bytes: a short temp dir.
    home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    port = free_port()
    data: dict[str, Any] = {
        "venue": {"kind": "sim", "port": port},
        "sim": {"admin_port": free_port(), "speed": 60.0, "start": SESSION},
        "manager": {"seed_strategies": strategies},
        "broker": {"reconcile_seconds": 1.0, "equity_sample_seconds": 1.0},
        "web": {"port": free_port()},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, list):  # an array of tables, such as [[venues]]
            data[key] = value
        else:
            data.setdefault(key, {}).update(value)
    home.mkdir(exist_ok=True)
    (home / "ats.toml").write_text(tomli_w.dumps(data))
    return home


def tear_down(system: System) -> None:
    """`down`, then SIGKILL a supervisord that outlived it, then remove the home (kept, and
    named, with ATS_KEEP_HOME=1)."""
    try:
        system.ctl("down", check=False, timeout=90)
    finally:
        pidfile = system.home / "run" / "supervisord.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
        if os.environ.get("ATS_KEEP_HOME"):
            print(f"kept {system.home}")
        else:
            shutil.rmtree(system.home, ignore_errors=True)
