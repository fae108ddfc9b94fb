"""ats-ctl's failures: one line on stderr and a distinct exit code (README, "Operating it").

The codes that come from the manager (6, 9, 12, 13) are produced by the real ats-manager
control service (`Manager.service`, the ROUTER the CLI talks to) on a private ipc endpoint of a
temporary ATS_HOME, with a real registry in ArcticDB (LMDB). Only supervisord is absent: 12
talks to its missing socket; 6 and 13 get supervisord's answers from `StubSupervisor`.
Code 17 comes from the CLI reading a broken ats.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from managerkit import ManagerService, StubSupervisor, ctl, one_error_line, short_home

from ats import config
from ats.manager import main as manager_main
from ats.manager import supervisor as sv

ATS_CTL = Path(sys.executable).parent / "ats-ctl"
STRATEGY = "probe"
BOOK = {STRATEGY: "strategies.example"}


@pytest.fixture
def home() -> Iterator[Path]:
    with short_home() as path:
        yield path


# -- codes from the manager --------------------------------------------------------------

def test_stop_of_a_stopped_strategy_exits_6_with_one_line(home: Path) -> None:
    stub = StubSupervisor({STRATEGY: "STOPPED"})
    with ManagerService(config.load(home), BOOK, stub):
        result = ctl(home, "stop", STRATEGY)
    assert result.exit_code == 6, result.output
    line = one_error_line(result)
    assert f"strategy {STRATEGY!r} is not running (STOPPED)" in line
    assert ("stop", sv.program_name(STRATEGY)) not in stub.calls


def test_add_of_a_registered_name_exits_9_with_one_line(home: Path) -> None:
    with ManagerService(config.load(home), BOOK, StubSupervisor({})):
        result = ctl(home, "add", "strategies.example", "--name", STRATEGY)
    assert result.exit_code == 9, result.output
    line = one_error_line(result)
    assert f"strategy {STRATEGY!r} is already registered" in line
    assert "ats-ctl remove" in line  # the hint


def test_status_with_supervisord_down_exits_12_with_one_line(home: Path) -> None:
    cfg = config.load(home)
    assert not cfg.supervisor_socket.exists()
    # the real supervisord client, with nothing listening
    with ManagerService(cfg, BOOK):
        result = ctl(home, "status")
    assert result.exit_code == 12, result.output
    line = one_error_line(result)
    assert f"supervisord at {cfg.supervisor_socket} is unreachable" in line
    assert "ats-ctl up" in line


def test_set_unacknowledged_by_the_running_strategy_exits_13_with_one_line(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing answers on the bus: the manager waits its (shortened) ack timeout, then gives up.
    monkeypatch.setattr(manager_main, "PARAMS_ACK_TIMEOUT", 0.2)
    with ManagerService(config.load(home), BOOK,
                        StubSupervisor({STRATEGY: "RUNNING"})) as manager:
        result = ctl(home, "set", STRATEGY, "quantity=7")
        stored = manager.registry.get(STRATEGY).params["quantity"]
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
    result = ctl(home, "reconcile")  # nothing listens on the broker's socket
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


def test_add_of_a_strategy_that_raises_when_built_exits_8_and_registers_nothing(
        home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken_init.py"
    broken.write_text(
        "from dataclasses import dataclass\n"
        "from ats.sdk import Params, Strategy\n"
        "@dataclass(frozen=True)\nclass P(Params):\n    pass\n"
        "class Broken(Strategy[P]):\n    params_type = P\n"
        "    def on_init(self):\n        raise KeyError('missing table')\n")
    with ManagerService(config.load(home)) as manager:
        result = ctl(home, "add", str(broken))
        registered = [e.name for e in manager.registry]
    line = one_error_line(result, 8)
    assert "Broken cannot be built: KeyError: 'missing table'" in line
    assert registered == []


def test_init_with_an_out_of_range_port_exits_17_and_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "new"
    result = ctl(home, "init", "--port", "70000")
    assert result.exit_code == 17, result.output
    assert "[venue] port must be an integer 1..65535, got 70000" in one_error_line(result)
    assert not home.exists()


def test_init_if_missing_checks_the_existing_file_and_exits_17_when_it_is_broken(
        home: Path) -> None:
    (home / config.CONFIG_FILE).write_text('[venue]\nport = "x"\n')
    result = ctl(home, "init", "--if-missing")
    assert result.exit_code == 17, result.output
    assert "[venue] port must be an integer" in one_error_line(result)


def test_a_daemon_given_a_broken_config_logs_one_line_and_exits_2(home: Path) -> None:
    import subprocess
    import sys

    (home / config.CONFIG_FILE).write_text('[venue]\nport = "x"\n')
    proc = subprocess.run([sys.executable, "-c", "from ats.processes import bus_main; bus_main()",
                           "--home", str(home)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert "ERROR   ats-bus:" in out and "[venue] port must be an integer" in out
