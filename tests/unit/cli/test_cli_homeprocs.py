"""Finding the processes of one ATS_HOME by their home, not their name (ats/cli/homeprocs.py).

The rules are checked on a process's facts (pure `classify`); `find`, `stop` and
`dead_supervisord` on real sleeping processes started here."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from managerkit import ctl, short_home

from ats.cli import homeprocs
from ats.cli.homeprocs import classify, command_name

PY = "/venv/bin/python3"
#: says it is ready (after ignoring SIGTERM when asked), then sleeps
SLEEPER = """
import signal, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    (path / "run").mkdir(parents=True)
    return path


# -- the rules ---------------------------------------------------------------------------

def test_a_program_supervisord_started_for_the_home_is_named_by_its_program(home: Path) -> None:
    env = {"ATS_HOME": str(home), "SUPERVISOR_ENABLED": "1",
           "SUPERVISOR_PROCESS_NAME": "gateway-sim"}
    cmd = [PY, "/venv/bin/ats-gateway-sim", "--port", "4002"]  # no --home on its command line
    assert classify(home, 10, cmd, env, "/", supervisord=None) == "gateway-sim"


def test_a_program_started_by_hand_is_found_by_its_home_argument(home: Path) -> None:
    bus = [PY, "/venv/bin/ats-bus"]
    for args, cwd in ((["--home", str(home)], "/"),
                      ([f"--home={home}"], "/"),
                      (["--home", "home"], str(home.parent)),  # relative to its own folder
                      (["--home", f"{home}/../home"], "/")):
        assert classify(home, 10, [*bus, *args], {}, cwd, supervisord=None) == "ats-bus", args
    host = [PY, "-m", "ats.host.main", "probe", "--home", str(home)]
    assert classify(home, 10, host, {}, "/", supervisord=None) == "ats.host.main"


def test_other_homes_clients_and_shells_are_no_part_of_the_home(home: Path) -> None:
    other = home.parent / "other"
    cases: list[tuple[list[str], dict[str, str]]] = [
        ([PY, "/venv/bin/ats-bus", "--home", str(other)], {}),  # another home
        ([PY, "/venv/bin/ats-bus", "--home", f"{home}x"], {}),  # a longer name, not a prefix
        (["/bin/bash"], {"ATS_HOME": str(home)}),  # the operator's shell that exported it
        ([PY, "/venv/bin/ats-ctl", "--home", str(home), "tail"], {}),  # a client
        ([PY, "/venv/bin/ats-bus", "--home", str(other)],  # supervisord's, but another home's
         {"ATS_HOME": str(other), "SUPERVISOR_PROCESS_NAME": "bus"}),
    ]
    for cmd, env in cases:
        assert classify(home, 10, cmd, env, "/", supervisord=None) is None, (cmd, env)


def test_supervisord_is_its_pid_file_pid_with_the_home_in_its_environment(home: Path) -> None:
    cmd = [PY, "/venv/bin/supervisord", "-c", "/repo/deploy/supervisord.conf"]
    assert classify(home, 42, cmd, {"ATS_HOME": str(home)}, "/", supervisord=42) == \
        "supervisord"
    # the pid was reused by a process of another home, or of none
    assert classify(home, 42, cmd, {"ATS_HOME": "/elsewhere"}, "/", supervisord=42) is None
    assert classify(home, 42, ["/bin/sleep", "9"], {}, "/", supervisord=42) is None


def test_command_name_is_the_script_or_module_behind_the_interpreter() -> None:
    assert command_name([PY, "/venv/bin/ats-bus", "--home", "h"]) == "ats-bus"
    assert command_name([PY, "-u", "-m", "ats.host.main", "x"]) == "ats.host.main"
    assert command_name(["/venv/bin/supervisord", "-c", "f"]) == "supervisord"
    assert command_name([PY, "-c", "print()"]) == "python -c"
    assert command_name([]) == "?"


# -- real processes ------------------------------------------------------------------------

@pytest.fixture
def spawn() -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", SLEEPER, *args], stdout=subprocess.PIPE,
                                text=True, env={**os.environ, **(env or {})})
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(30)


def test_find_lists_the_live_processes_of_the_home_and_nothing_else(
        home: Path, spawn: Any) -> None:
    by_hand = spawn("--home", str(home))
    supervised = spawn(env={"ATS_HOME": str(home), "SUPERVISOR_PROCESS_NAME": "gateway-sim"})
    spawn("--home", str(home.parent / "other"))
    spawn(env={"ATS_HOME": str(home)})  # a shell-like process that only exported the home
    found = {p.pid: p.program for p in homeprocs.find(home)}
    assert found == {by_hand.pid: "python -c", supervised.pid: "gateway-sim"}


def test_stop_terminates_and_kills_only_what_ignores_sigterm(home: Path, spawn: Any) -> None:
    polite = spawn("--home", str(home))
    stubborn = spawn("--home", str(home), "--ignore-term")
    procs = homeprocs.find(home)
    assert {p.pid for p in procs} == {polite.pid, stubborn.pid}
    killed = homeprocs.stop(procs, grace=0.5)
    assert [p.pid for p in killed] == [stubborn.pid]
    polite.wait(30)  # stop() reaped them (they are this test's children): gone, at once
    stubborn.wait(30)
    assert homeprocs.find(home) == []


def test_a_pid_file_that_outlived_its_supervisord_is_reported_and_removed(
        home: Path, spawn: Any) -> None:
    run = home / "run"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    (run / homeprocs.PIDFILE).write_text(f"{gone.pid}\n")
    (run / homeprocs.SOCKET).write_text("")
    assert homeprocs.dead_supervisord(home) == gone.pid
    alive = spawn(env={"ATS_HOME": str(home)})  # a live supervisord of this home, as far as
    (run / homeprocs.PIDFILE).write_text(f"{alive.pid}\n")  # its pid file and env go
    assert homeprocs.dead_supervisord(home) is None
    assert [(p.pid, p.program) for p in homeprocs.find(home)] == [(alive.pid, "supervisord")]
    (run / homeprocs.PIDFILE).write_text(f"{gone.pid}\n")
    assert homeprocs.forget_dead_supervisord(home) == gone.pid
    assert not (run / homeprocs.PIDFILE).exists() and not (run / homeprocs.SOCKET).exists()
    assert homeprocs.dead_supervisord(home) is None  # no pid file: nothing died


# -- ats-ctl up, down and status ----------------------------------------------------------

@pytest.fixture
def ats_home() -> Iterator[Path]:
    with short_home() as path:
        yield path


def test_up_refuses_and_down_stops_a_process_of_the_home_without_supervisord(
        ats_home: Path, spawn: Any) -> None:
    orphan = spawn("--home", str(ats_home))
    up = ctl(ats_home, "up", "--no-wait")
    assert up.exit_code == 22, up.output
    [line] = up.stderr.splitlines()
    assert f"{ats_home} still has 1 process running without a supervisord" in line
    assert f"pid {orphan.pid} (python -c)" in line and "`ats-ctl down`" in line
    assert not (ats_home / "run" / homeprocs.PIDFILE).exists()  # no supervisord started

    down = ctl(ats_home, "down")
    assert down.exit_code == 0, down.output
    assert f"stopped pid {orphan.pid} (python -c)" in down.stdout
    orphan.wait(30)
    assert homeprocs.find(ats_home) == []


def test_status_after_supervisord_was_killed_exits_12_with_one_line(ats_home: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(30)
    (ats_home / "run" / homeprocs.PIDFILE).write_text(f"{gone.pid}\n")  # as kill -9 leaves it
    result = ctl(ats_home, "status")
    assert result.exit_code == 12, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: supervisord at ") and f"(pid {gone.pid}) is gone" in line
    assert "ats-ctl up" in line
