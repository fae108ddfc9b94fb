"""`SimProcess`: run the real `ats-gateway-sim` as a subprocess for tests and benches."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from ats.sim.admin import AdminClient

_LINE = re.compile(r"ats-gateway-sim listening on (\S+):(\d+) admin (\S+):(\d+)")


class SimProcess:
    """`with SimProcess(seed=1) as sim: IB().connect(sim.host, sim.port, clientId=1)`"""

    def __init__(self, seed: int = 1, speed: float = 1.0, state_file: str | Path | None = None,
                 extra_args: list[str] | None = None, host: str = "127.0.0.1",
                 startup_timeout: float = 30.0, log_file: str | Path | None = None,
                 start: str | None = None) -> None:
        self.seed = seed
        self.speed = speed
        self.start_time = start  #: ISO 8601 sim start; None starts at the wall clock
        self.state_file = Path(state_file) if state_file else None
        self.extra_args = list(extra_args or [])
        self.host = host
        self.port = 0
        self.admin_port = 0
        self.startup_timeout = startup_timeout
        self.log_file = Path(log_file) if log_file else None
        self.proc: subprocess.Popen[str] | None = None
        self.stderr_lines: list[str] = []

    @property
    def admin(self) -> AdminClient:
        return AdminClient(self.host, self.admin_port)

    def start(self) -> None:
        args = [sys.executable, "-m", "ats.sim.cli", "--host", self.host,
                "--port", str(self.port), "--admin-port", str(self.admin_port),
                "--seed", str(self.seed), "--speed", str(self.speed)]
        if self.state_file is not None:
            args += ["--state", str(self.state_file)]
        if self.start_time is not None:
            args += ["--start", self.start_time]
        args += self.extra_args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self._read_line()
        m = _LINE.search(line)
        if not m:
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r}\n"
                               + "".join(self.stderr_lines[-30:]))
        self.port, self.admin_port = int(m.group(2)), int(m.group(4))

    def _read_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        result: list[str] = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()  # type: ignore[union-attr]
                                                          ), daemon=True)
        t.start()
        t.join(self.startup_timeout)
        return result[0] if result else ""

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        sink = self.log_file.open("a") if self.log_file else None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            if len(self.stderr_lines) > 2000:
                del self.stderr_lines[:1000]
            if sink:
                sink.write(line)
        if sink:
            sink.close()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def restart(self) -> None:
        """Stop, then start again on the same ports (state file, if any, is kept)."""
        self.stop()
        self.start()

    def __enter__(self) -> SimProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
