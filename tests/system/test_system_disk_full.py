"""A full disk: the broker goes REDUCING, then HALTED, never crashes, and loses no fill.

The whole ATS_HOME (journals, ArcticDB on LMDB, logs, the simulator's state) lives on a 200 MB
tmpfs that the test fills with a file while a strategy trades, then frees. Mounting needs root
(CI runs as root); where it is refused the test is skipped and says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from pinned import SESSION
from systemkit import PROBE, System, broker, free_port, wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

MB = 1 << 20
SOFT_MB, HARD_MB = 60, 30


@pytest.fixture
def system() -> Iterator[System]:
    mount = Path(tempfile.mkdtemp(prefix="ats-disk-", dir="/tmp"))
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}): full-disk test skipped")
    home = mount / "h"
    home.mkdir()
    loose = {"max_order_qty": 5000, "max_order_notional": 1e9, "max_position": 1e6,
             "max_gross_exposure": 1e10, "max_orders_per_minute": 10000}
    (home / "ats.toml").write_text(tomli_w.dumps({
        "venue": {"kind": "sim", "port": free_port()},
        "sim": {"admin_port": free_port(), "speed": 60.0, "start": SESSION},
        "manager": {"seed_strategies": [{"name": "probe", "spec": PROBE,
                                         "params": {"mode": "churn", "quantity": 1}}]},
        "broker": {"reconcile_seconds": 1.0, "equity_sample_seconds": 1.0, "flush_seconds": 0.5,
                   "disk_soft_mb": SOFT_MB, "disk_hard_mb": HARD_MB},
        "risk": {"account": loose, "default": loose},
        "web": {"port": free_port()},
    }))
    s = System(home)
    try:
        s.ctl("up", timeout=180)
        yield s
    finally:
        s.ctl("down", check=False, timeout=90)
        pidfile = home / "run" / "supervisord.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
        subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


def guard(system: System) -> str:
    return str(broker(system, "trading_state")["guard"]["state"])


def fill_to(home: Path, filler: Path, free_mb: float) -> None:
    """Grow `filler` until about `free_mb` is left on the filesystem."""
    have = filler.stat().st_size if filler.exists() else 0
    grow = shutil.disk_usage(home).free - int(free_mb * MB)
    with filler.open("ab") as fh:
        os.posix_fallocate(fh.fileno(), 0, max(have + grow, 1))


def test_a_filling_disk_reduces_then_halts_trading_without_a_crash_and_loses_no_fill(
        system: System) -> None:
    from ats.sim.admin import AdminClient

    home = system.home
    sim = AdminClient("127.0.0.1", system.cfg().section("sim")["admin_port"])
    wait_for(lambda: len(sim.call("executions")["executions"]) >= 4, 90, "the probe trading")
    broker_pid = system.pid_of("broker")
    filler = home / "filler"

    fill_to(home, filler, (SOFT_MB + HARD_MB) / 2)
    wait_for(lambda: guard(system) == "REDUCING", 30, "the account REDUCING for lack of disk")
    fill_to(home, filler, HARD_MB / 3)
    wait_for(lambda: guard(system) == "HALTED", 30, "the account HALTED for lack of disk")
    mark = len(system.log("strategy-probe"))
    wait_for(lambda: system.log("strategy-probe")[mark:].count("disk CRITICAL") >= 3, 60,
             "the probe's orders refused, for the disk, bar after bar")
    assert system.pid_of("broker") == broker_pid, "the broker restarted on a full disk"

    filler.unlink()
    wait_for(lambda: guard(system) == "ACTIVE", 30, "trading ACTIVE again once space is back")
    before = len(sim.call("executions")["executions"])
    wait_for(lambda: len(sim.call("executions")["executions"]) >= before + 4, 60,
             "the probe trading again")
    assert system.pid_of("broker") == broker_pid
    assert "Traceback" not in system.log("broker")

    assert "acknowledged" in system.ctl("set", "probe", "mode=idle").stdout
    def ledger_caught_up() -> bool:
        venue = {e["exec_id"] for e in sim.call("executions")["executions"]}
        ours = [f["exec_id"] for f in system.json("fills", "--limit", "0")]
        return len(ours) == len(set(ours)) and set(ours) == venue

    wait_for(ledger_caught_up, 60, "every venue execution in the ledger, once")
    wait_for(lambda: system.json("reconcile")["breaks"] == [], 30, "the books equal the account")
