"""A joined host in one process, for unit tests: a fake supervisord that loads the program
sections an agent writes and starts and stops them, and homes for a main host and a joined one
on one loopback bus (no hub: the manager's switchboard and the agent's dialer meet directly)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tomli_w

from ats import config
from ats.manager import supervisor as sv

PROBE = str(Path(__file__).parent / "system" / "probe_strategy.py")


class FakeSupervisord:
    """What supervisord answers the agent: the strategy sections of ``programs_dir`` once
    loaded, each STOPPED until started; an autostart section is started by ``restart()``."""

    def __init__(self, programs_dir: Path) -> None:
        self.programs_dir = programs_dir
        self.states: dict[str, str] = {}  #: program -> state
        self.pids = iter(range(5000, 6000))
        self.pid: dict[str, int] = {}

    def all_processes(self) -> list[sv.ProcessInfo]:
        return [sv.ProcessInfo(name, state, self.pid.get(name, 0) if state == "RUNNING" else 0,
                               0.0, 0.0, 0, "") for name, state in sorted(self.states.items())]

    def load_programs(self) -> tuple[list[str], list[str]]:
        on_disk = {p.stem for p in self.programs_dir.glob("*.conf")}
        added = sorted(on_disk - set(self.states))
        removed = sorted(set(self.states) - on_disk)
        for name in added:
            self.states[name] = "STOPPED"
        for name in removed:
            del self.states[name]
        return added, removed

    def start(self, program: str, wait: bool = True) -> None:
        if program not in self.states:
            raise xmlrpc.client.Fault(sv.BAD_NAME, f"BAD_NAME: {program}")
        self.states[program] = "RUNNING"
        self.pid[program] = next(self.pids)

    def stop(self, program: str, wait: bool = True) -> None:
        if program not in self.states:
            raise xmlrpc.client.Fault(sv.BAD_NAME, f"BAD_NAME: {program}")
        self.states[program] = "STOPPED"

    def restart(self) -> None:
        """A new supervisord on the same sections: what autostart says runs."""
        self.states.clear()
        self.load_programs()
        for name in self.states:
            if "autostart=true" in (self.programs_dir / f"{name}.conf").read_text():
                self.start(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def two_homes(lost_seconds: float = 10.0) -> Iterator[tuple[config.Config, config.Config]]:
    """A main host's home and a joined host ``b``'s, on one loopback TCP bus."""
    bus = {"transport": "tcp", "host": "127.0.0.1", "base_port": free_port()}
    made = []
    try:
        for hosts in ({"name": "local", "lost_seconds": lost_seconds},
                      {"name": "b", "role": "agent"}):
            home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
            made.append(home)
            (home / config.CONFIG_FILE).write_text(tomli_w.dumps(
                {"bus": bus, "hosts": hosts, "manager": {"seed_strategies": []}}))
            config.init_home(home)
        yield config.load(made[0]), config.load(made[1])
    finally:
        for home in made:
            shutil.rmtree(home, ignore_errors=True)
