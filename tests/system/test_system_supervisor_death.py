"""kill -9 of supervisord: nothing outlives it, and one ATS_HOME never runs two systems.

One system (simulator, hub, manager, broker and the `probe` strategy churning orders). The
processes of an ATS_HOME are counted here by their home, independently of ats-ctl's own finder:
a process whose environment holds ATS_HOME=<home> or whose command line says `--home <home>`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psutil
import pytest
from pinned import THREAD_TIMERS
from systemkit import BIN, LOOSE, PROBE, System, make_home, wait_for

from ats.processes import EXIT_LOCKED

# THREAD_TIMERS: the parent watch polls with a timed Event.wait
pytestmark = [pytest.mark.system, pytest.mark.timeout(300), THREAD_TIMERS]

#: every process sees its supervisord gone within 2 s (a 0.5 s poll), then stops cleanly: a
#: broker flushing its journal on a loaded 2-core machine took more than the 3 s left of 5
GONE_WITHIN = 15.0
#: one full set: supervisord and its programs, one host per strategy
ONE_SET = Counter({"supervisord": 1, "bus": 1, "broker": 1, "manager": 1, "gateway-sim": 1,
                   "web": 1, "alerts": 1, "scheduler": 1, "strategy-probe": 1})
PROGRAMS = ["bus", "broker", "manager", "gateway-sim", "web", "alerts", "scheduler",
            "strategy-probe"]


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory(
        [{"name": "probe", "spec": PROBE, "params": {"mode": "churn"}}],
        {"risk": {"account": LOOSE, "default": LOOSE}})
    wait_for(lambda: s.all_running(["probe"]), 60, "probe RUNNING")
    return s


def home_processes(home: Path) -> Counter[str]:
    """The live processes of `home`, counted by program (supervisord's name for it, else the
    command it runs). A process's own child of the same program (a strategy host's child that
    computes the day's exchange sessions) is part of that one instance, not another."""
    target = os.path.realpath(home)
    program_of: dict[int, tuple[str, int]] = {}  # pid -> (program, parent pid)
    for p in psutil.process_iter():
        if p.pid == os.getpid():
            continue
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd, env = p.cmdline(), p.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        by_env = os.path.realpath(env.get("ATS_HOME", "/nonexistent")) == target
        by_arg = any(a == "--home" and os.path.realpath(b) == target
                     for a, b in itertools.pairwise(cmd))
        if by_env or by_arg:
            script = next((c for c in cmd if not os.path.basename(c).startswith("python")), "")
            program_of[p.pid] = (env.get("SUPERVISOR_PROCESS_NAME") or os.path.basename(script),
                                 p.ppid())
    return Counter(program for program, parent in program_of.values()
                   if program_of.get(parent, ("",))[0] != program)


def admin(system: System) -> Any:
    from ats.sim.admin import AdminClient

    return AdminClient("127.0.0.1", system.cfg().section("sim")["admin_port"])


def probe_executions(system: System) -> list[dict[str, Any]]:
    return [e for e in admin(system).call("executions")["executions"]
            if e["order_ref"].startswith("ats:probe:")]


def set_mode(system: System, mode: str) -> None:
    assert "acknowledged" in system.ctl("set", "probe", f"mode={mode}").stdout


@pytest.mark.parametrize("program", ["bus", "broker", "manager"])
def test_a_second_instance_on_the_same_home_exits_at_once_naming_the_holder(
        system: System, program: str) -> None:
    holder = system.pid_of(program)
    home = system.cfg().home
    proc = subprocess.run([str(BIN / f"ats-{program}"), "--home", str(home)], env=system.env,
                          capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_LOCKED, out
    assert f"another {program} (pid {holder}) already runs for {home}" in out
    assert system.pid_of(program) == holder  # the running one is untouched
    assert home_processes(home) == ONE_SET


def test_kill_9_of_supervisord_leaves_nothing_and_up_brings_back_one_set(
        system: System) -> None:
    home = system.cfg().home
    wait_for(lambda: len(probe_executions(system)) >= 3, 60, "the probe trading")
    assert home_processes(home) == ONE_SET
    supervisord = int((home / "run" / "supervisord.pid").read_text())

    os.kill(supervisord, signal.SIGKILL)  # while the probe churns orders
    wait_for(lambda: not home_processes(home), GONE_WITHIN, "no process of the home left")
    for program in PROGRAMS:  # each stopped itself: it logged why, in its usual log
        assert "(supervisord) is gone: stopping" in system.log(program), program
    status = system.ctl("status", check=False)
    assert status.returncode == 12, status.stdout + status.stderr
    assert len(status.stderr.splitlines()) == 1
    assert f"its process (pid {supervisord}) is gone" in status.stderr
    assert "Traceback" not in status.stderr

    system.ctl("up", timeout=180)
    wait_for(lambda: system.all_running(["probe"]), 60, "probe RUNNING again")
    traded = len(probe_executions(system))
    wait_for(lambda: len(probe_executions(system)) >= traded + 3, 60, "the probe trading again")
    assert home_processes(home) == ONE_SET

    set_mode(system, "idle")
    wait_for(lambda: not [o for o in system.json("orders", "--strategy", "probe")
                          if o["status"] != "Approved"], 30, "probe orders done")
    perm_ids: dict[str, set[int]] = defaultdict(set)  # orderRef -> the venue orders with it
    for e in probe_executions(system):
        perm_ids[e["order_ref"]].add(e["perm_id"])
    for o in system.json("orders", "--strategy", "probe", "--all"):
        if o.get("perm_id"):
            perm_ids[o["order_ref"]].add(o["perm_id"])
    assert perm_ids and not {ref: p for ref, p in perm_ids.items() if len(p) > 1}
    wait_for(lambda: {e["exec_id"] for e in probe_executions(system)}
             == {f["exec_id"] for f in system.json("fills", "--strategy", "probe",
                                                   "--limit", "0")},
             30, "the ledger to hold every venue execution, the ones around the kill too")
    wait_for(lambda: system.json("reconcile")["breaks"] == [], 30,
             "the books to equal the account")


def working_probe_orders(system: System) -> list[str]:
    return [o["order_ref"] for o in system.json("orders", "--strategy", "probe")
            if o["status"] != "Approved"]


def test_a_resting_order_outlives_supervisord_death_and_is_re_adopted(system: System) -> None:
    home, log = system.cfg().home, "strategy-probe"
    set_mode(system, "rest")
    [ref] = wait_for(lambda: working_probe_orders(system), 30, "a resting probe order")
    supervisord = int((home / "run" / "supervisord.pid").read_text())
    os.kill(supervisord, signal.SIGKILL)
    wait_for(lambda: not home_processes(home), GONE_WITHIN, "no process of the home left")

    system.ctl("up", timeout=180)
    wait_for(lambda: f"re-adopted open order {ref}" in system.log(log), 60,
             "the new host to adopt the order the old one left at the venue")
    adopted = system.log(log).rindex(f"re-adopted open order {ref}")
    wait_for(lambda: "probe rest: 1 open orders" in system.log(log)[adopted:], 60,
             "the probe deciding on bars while it holds the adopted order")
    assert working_probe_orders(system) == [ref]  # not cancelled, not placed again
    set_mode(system, "idle")
    system.ctl("halt", "probe")  # cancels the resting order
    system.ctl("resume", "probe")
    wait_for(lambda: not working_probe_orders(system), 30, "the resting order cancelled")


def test_up_refuses_while_an_orphan_of_the_home_runs_and_down_stops_it() -> None:
    system = System(make_home([]))
    orphan = subprocess.Popen([str(BIN / "ats-bus"), "--home", str(system.home)],
                              env=system.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert orphan.stdout is not None
        wait_for(lambda: "hub forwarding" in (orphan.stdout.readline() or "EOF"), 30,
                 "the hand-started hub to bind", interval=0)
        up = system.ctl("up", check=False, timeout=180)
        assert up.returncode == 22, up.stdout + up.stderr
        assert f"pid {orphan.pid} (ats-bus)" in up.stderr and "ats-ctl down" in up.stderr
        assert not (system.home / "run" / "supervisord.pid").exists()  # nothing started

        down = system.ctl("down", timeout=90)
        assert f"stopped pid {orphan.pid} (ats-bus)" in down.stdout
        orphan.wait(30)
        assert not home_processes(system.home)
    finally:
        orphan.kill()
        orphan.wait(30)
        shutil.rmtree(system.home, ignore_errors=True)
