"""supervisord's XML-RPC API over its 0700 unix socket, and strategy program sections."""

from __future__ import annotations

import http.client
import sys
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from ats.host.crashloop import CRASH_LOOP_EXIT, STARTSECS

STRATEGY_PREFIX = "strategy-"

# supervisor.xmlrpc.Faults, kept by number so callers need not import supervisor.
BAD_NAME = 10
ALREADY_STARTED = 60
NOT_RUNNING = 70
ALREADY_ADDED = 90
STILL_RUNNING = 91


def program_name(strategy: str) -> str:
    return f"{STRATEGY_PREFIX}{strategy}"


def strategy_of(program: str) -> str | None:
    return program[len(STRATEGY_PREFIX):] if program.startswith(STRATEGY_PREFIX) else None


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    state: str  #: STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN
    pid: int
    start: float
    now: float
    exitstatus: int
    description: str

    @property
    def uptime(self) -> float:
        return max(0.0, self.now - self.start) if self.state == "RUNNING" else 0.0


class _Transport(SupervisorTransport):  # type: ignore[misc]
    """supervisor's transport keeps one HTTP connection; a request that fails half way (the
    peer died) leaves it in a state where every later request raises CannotSendRequest, even
    once a new supervisord listens. Drop the connection on any failure: the next call opens a
    fresh one and gets a plain OSError while nothing listens."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(*args, **kwargs)
        except BaseException:
            self.close()
            raise


#: what a call raises when supervisord does not answer (dead, restarting, or its socket gone)
UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError, http.client.HTTPException, xmlrpc.client.ProtocolError)


class Supervisor:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        transport = _Transport(None, None, f"unix://{socket_path}")
        self._proxy: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    @property
    def rpc(self) -> Any:
        return self._proxy.supervisor

    def state(self) -> str:
        return str(self.rpc.getState()["statename"])

    def all_processes(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(
                name=p["name"], state=p["statename"], pid=p["pid"], start=p["start"],
                now=p["now"], exitstatus=p["exitstatus"], description=p["description"],
            )
            for p in self.rpc.getAllProcessInfo()
        ]

    def start(self, program: str, wait: bool = True) -> None:
        try:
            self.rpc.startProcess(program, wait)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != ALREADY_STARTED:
                raise

    def stop(self, program: str, wait: bool = True) -> None:
        try:
            self.rpc.stopProcess(program, wait)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != NOT_RUNNING:
                raise

    def load_programs(self) -> tuple[list[str], list[str]]:
        """Re-read program sections: add new groups and drop removed ones, without a restart."""
        [[added, changed, removed]] = self.rpc.reloadConfig()
        for name in removed:
            self.stop(name)
            self.rpc.removeProcessGroup(name)
        for name in changed:
            self.stop(name)
            self.rpc.removeProcessGroup(name)
            self.rpc.addProcessGroup(name)
        for name in added:
            try:
                self.rpc.addProcessGroup(name)
            except xmlrpc.client.Fault as fault:
                if fault.faultCode != ALREADY_ADDED:
                    raise
        return list(added) + list(changed), list(removed)


def strategy_section(name: str, home: Path, python: str = "", ib_lib: str = "ib_async",
                     autostart: bool = False) -> str:
    """One program section per strategy. autostart is false on the manager's host: the manager
    starts what the operator wants running, so supervisord never revives a strategy the operator
    stopped. On a joined host the agent writes it true while the operator wants it running, so
    that host's supervisord starts it again by itself after a restart, even with the manager
    out of reach."""
    program = program_name(name)
    return f"""; Written by ats-manager for strategy {name!r}. Edits are overwritten.
[program:{program}]
command={python or sys.executable} -m ats.host.main {name} --home {home}
environment=ATS_IB_LIB="{ib_lib}",PYTHONUNBUFFERED="1"
autostart={str(autostart).lower()}
autorestart=unexpected
exitcodes=0,{CRASH_LOOP_EXIT}
startsecs={STARTSECS}
startretries=5
stopsignal=TERM
stopwaitsecs=10
stopasgroup=true
killasgroup=true
stdout_logfile={home}/log/{program}.log
redirect_stderr=true
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=3
"""


def write_strategy_section(programs_dir: Path, name: str, home: Path, python: str = "",
                           ib_lib: str = "ib_async", autostart: bool = False) -> bool:
    """Write the section if it differs; return True when the file changed."""
    path = programs_dir / f"{program_name(name)}.conf"
    text = strategy_section(name, home, python, ib_lib, autostart)
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


def remove_strategy_section(programs_dir: Path, name: str) -> None:
    (programs_dir / f"{program_name(name)}.conf").unlink(missing_ok=True)


def strategy_sections(programs_dir: Path) -> set[str]:
    """The strategies that have a program section in ``programs_dir``."""
    return {p.stem[len(STRATEGY_PREFIX):]
            for p in programs_dir.glob(f"{STRATEGY_PREFIX}*.conf")}
