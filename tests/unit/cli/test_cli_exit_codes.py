"""ats-ctl's failures: one line on stderr and a distinct exit code (README, "Operating it").

The codes that come from the manager (6, 9, 12, 13) are produced by the real ats-manager
control service (`Manager.service`, the ROUTER the CLI talks to) on a private ipc endpoint of a
temporary ATS_HOME, with a real registry in ArcticDB (LMDB). Only supervisord is absent: 12
talks to its missing socket; 6 and 13 get supervisord's answers from `StubSupervisor`.
Code 17 comes from the CLI reading a broken ats.toml.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
from click.testing import CliRunner, Result

from ats import config
from ats.cli.main import cli
from ats.manager import main as manager_main
from ats.manager import supervisor as sv
from ats.manager.main import Manager

ATS_CTL = Path(sys.executable).parent / "ats-ctl"
STRATEGY = "probe"


# -- helpers ---------------------------------------------------------------------------------

class StubSupervisor:
    """supervisord's answers about strategy programs, without supervisord: each program is
    in the state given, and start/stop/reload are recorded, not run."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.calls: list[tuple[str, ...]] = []

    def all_processes(self) -> list[sv.ProcessInfo]:
        # start == now: an uptime of 0, whatever the wall clock says
        return [sv.ProcessInfo(name=sv.program_name(name), state=state,
                               pid=4242 if state == "RUNNING" else 0, start=0.0, now=0.0,
                               exitstatus=0, description="")
                for name, state in self.states.items()]

    def start(self, program: str, wait: bool = True) -> None:
        self.calls.append(("start", program))

    def stop(self, program: str, wait: bool = True) -> None:
        self.calls.append(("stop", program))

    def load_programs(self) -> tuple[list[str], list[str]]:
        self.calls.append(("load_programs",))
        return [], []


class ManagerService:
    """The real manager's control service on its own thread and event loop.

    `registered` names are added to its registry (as strategies.example) before it serves;
    `supervisor` replaces its supervisord client when given."""

    def __init__(self, cfg: config.Config, registered: tuple[str, ...] = (),
                 supervisor: StubSupervisor | None = None) -> None:
        self.cfg, self.registered, self.supervisor = cfg, registered, supervisor
        self.manager: Manager | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="manager", daemon=True)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            m = self.manager = Manager(self.cfg)
            for name in self.registered:
                m.registry.add(name, "strategies.example")
            if self.supervisor is not None:
                m.supervisor = self.supervisor  # type: ignore[assignment]
            m.service.bind()
            self._loop = loop
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_until_complete(m.service.run())
        finally:
            m.subscriber.close()
            m.publisher.close()
            m._sv_pool.shutdown(wait=False)
            loop.close()
            m.ctx.destroy(linger=0)
            m.sync_ctx.destroy(linger=0)

    def __enter__(self) -> ManagerService:
        self._thread.start()
        assert self._ready.wait(30), "the manager service did not start"
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self.manager is not None:
            self._loop.call_soon_threadsafe(self.manager.service.stop)
        self._thread.join(30)


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh ATS_HOME with every default, in a short path (ipc paths are limited to 107
    characters, more than pytest's tmp_path can promise)."""
    path = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    try:
        config.init_home(path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def ctl(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ATS_HOME": str(home)})


def one_error_line(result: Result) -> str:
    """The single line the CLI printed on stderr; fails if there is not exactly one."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"want one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# -- codes from the manager --------------------------------------------------------------

def test_stop_of_a_stopped_strategy_exits_6_with_one_line(home: Path) -> None:
    stub = StubSupervisor({STRATEGY: "STOPPED"})
    with ManagerService(config.load(home), (STRATEGY,), stub):
        result = ctl(home, "stop", STRATEGY)
    assert result.exit_code == 6, result.output
    line = one_error_line(result)
    assert f"strategy {STRATEGY!r} is not running (STOPPED)" in line
    assert ("stop", sv.program_name(STRATEGY)) not in stub.calls


def test_add_of_a_registered_name_exits_9_with_one_line(home: Path) -> None:
    with ManagerService(config.load(home), (STRATEGY,), StubSupervisor({})):
        result = ctl(home, "add", "strategies.example", "--name", STRATEGY)
    assert result.exit_code == 9, result.output
    line = one_error_line(result)
    assert f"strategy {STRATEGY!r} is already registered" in line
    assert "ats-ctl remove" in line  # the hint


def test_status_with_supervisord_down_exits_12_with_one_line(home: Path) -> None:
    cfg = config.load(home)
    assert not cfg.supervisor_socket.exists()
    with ManagerService(cfg, (STRATEGY,)):  # the real supervisord client, nothing listening
        result = ctl(home, "status")
    assert result.exit_code == 12, result.output
    line = one_error_line(result)
    assert f"supervisord at {cfg.supervisor_socket} is unreachable" in line
    assert "ats-ctl up" in line


def test_set_unacknowledged_by_the_running_strategy_exits_13_with_one_line(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing answers on the bus: the manager waits its (shortened) ack timeout, then gives up.
    monkeypatch.setattr(manager_main, "PARAMS_ACK_TIMEOUT", 0.2)
    with ManagerService(config.load(home), (STRATEGY,),
                        StubSupervisor({STRATEGY: "RUNNING"})) as service:
        result = ctl(home, "set", STRATEGY, "quantity=7")
        assert service.manager is not None
        stored = service.manager.registry.get(STRATEGY).params["quantity"]
    assert result.exit_code == 13, result.output
    line = one_error_line(result)
    assert f"{STRATEGY} stored the change but did not acknowledge it" in line
    assert stored == 7  # stored, as the message says


# -- bad configuration -------------------------------------------------------------------

def test_ats_toml_that_is_not_toml_exits_17_naming_the_file_and_line(home: Path) -> None:
    path = home / config.CONFIG_FILE
    path.write_text('[venue]\nport = 4002\n[sim\nspeed = 2\n')
    proc = subprocess.run([str(ATS_CTL), "status"], capture_output=True, text=True,
                          env={**os.environ, "ATS_HOME": str(home)}, timeout=60)
    assert proc.returncode == 17, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {path}: not valid TOML")
    assert "line 3" in lines[0]
    assert "fix ats.toml" in lines[0]


def test_wrong_typed_venue_port_exits_17_naming_the_key_and_value(home: Path) -> None:
    (home / config.CONFIG_FILE).write_text('[venue]\nport = "4002"\n')
    result = ctl(home, "status")
    assert result.exit_code == 17, result.output
    line = one_error_line(result)
    assert "[venue] port must be an integer" in line and "'4002'" in line


def test_wrong_typed_bus_base_port_exits_17_naming_the_key_and_value(home: Path) -> None:
    (home / config.CONFIG_FILE).write_text('[bus]\ntransport = "tcp"\nbase_port = "fifty"\n')
    result = ctl(home, "status")
    assert result.exit_code == 17, result.output
    line = one_error_line(result)
    assert "[bus] base_port must be an integer" in line and "'fifty'" in line


def test_non_loopback_bus_host_exits_17_naming_the_key_and_value(home: Path) -> None:
    (home / config.CONFIG_FILE).write_text('[bus]\ntransport = "tcp"\nhost = "192.0.2.7"\n')
    result = ctl(home, "status")
    assert result.exit_code == 17, result.output
    line = one_error_line(result)
    assert "[bus] host must be a loopback address" in line and "'192.0.2.7'" in line


def test_a_command_on_an_uninitialised_home_exits_20_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "typo"
    for args in (("status",), ("positions",), ("config",)):
        result = ctl(home, *args)
        assert result.exit_code == 20, result.output
        assert "not an initialised ATS_HOME" in one_error_line(result)
        assert "ats-ctl init" in one_error_line(result)
    assert not home.exists()


def test_a_stopped_system_fails_at_once_with_exit_3(home: Path) -> None:
    result = ctl(home, "orders")  # nothing listens on the broker's socket
    assert result.exit_code == 3
    assert "the broker is unreachable" in one_error_line(result)


def test_changing_limits_needs_to_say_whose(home: Path) -> None:
    result = ctl(home, "limits", "max_order_qty=5")
    assert result.exit_code == 7
    assert "--strategy NAME or --account" in one_error_line(result)
    result = ctl(home, "limits", "--account", "--strategy", "x", "max_order_qty=5")
    assert result.exit_code == 7


def test_limits_of_an_unknown_strategy_exit_4(home: Path) -> None:
    with ManagerService(config.load(home)):
        result = ctl(home, "limits", "--strategy", "nope", "max_order_qty=5")
    assert result.exit_code == 4
    assert "nope" in one_error_line(result)
