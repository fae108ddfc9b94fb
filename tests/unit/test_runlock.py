"""One system per ATS_HOME: the run-folder lock the hub, the manager and the broker hold."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from managerkit import short_home

from ats import config
from ats.processes import EXIT_LOCKED, single_instance
from ats.runlock import LockHeld, RunLock, holder_pid

#: a process that takes the lock, says so, and holds it until it is killed
HOLDER = """
import sys, time
from pathlib import Path
from ats.runlock import RunLock
lock = RunLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "broker.lock"


def test_a_second_lock_fails_at_once_naming_the_holders_pid(lock_path: Path) -> None:
    with RunLock(lock_path), pytest.raises(LockHeld) as info:
        RunLock(lock_path).acquire()
    assert info.value.pid == os.getpid()
    assert info.value.path == lock_path
    assert f"pid {os.getpid()}" in str(info.value)


def test_the_lock_file_is_private_and_holds_the_pid(lock_path: Path) -> None:
    with RunLock(lock_path):
        assert holder_pid(lock_path) == os.getpid()
        assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600


def test_a_released_lock_can_be_taken_again_and_names_no_stale_pid(lock_path: Path) -> None:
    first = RunLock(lock_path).acquire()
    first.release()
    assert not first.held and holder_pid(lock_path) is None
    with RunLock(lock_path) as second:
        assert second.held


def test_the_lock_of_a_holder_killed_with_sigkill_is_free_again(lock_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as info:
            RunLock(lock_path).acquire()
        assert info.value.pid == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        with RunLock(lock_path) as lock:  # the kernel dropped the lock with the process
            assert lock.held and holder_pid(lock_path) == os.getpid()
    finally:
        holder.kill()
        holder.wait(30)


@pytest.fixture
def home() -> Iterator[Path]:
    with short_home() as path:
        yield path


def test_a_second_broker_on_one_home_exits_with_exit_locked_naming_the_holder(
        home: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = config.load(home)
    with single_instance(cfg, "ats-broker") as held:
        assert held.path == cfg.run_dir / "broker.lock"
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as info:
            single_instance(cfg, "ats-broker")
        single_instance(cfg, "ats-manager").release()  # another program: its own lock
    assert info.value.code == EXIT_LOCKED
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"another broker (pid {os.getpid()}) already runs for {cfg.home}" in record.message
    assert "ats-ctl down" in record.message
