"""The processes of one ATS_HOME, found by their home, never by their name.

A process belongs to ATS_HOME ``H`` when

- a supervisord started it for ``H``: its environment holds ``ATS_HOME=H`` and
  ``SUPERVISOR_PROCESS_NAME`` (its program: bus, broker, manager, gateway-sim,
  strategy-<name>), or
- its command line says ``--home H`` (an ats program started by hand), or
- it is ``H``'s supervisord: the pid in ``run/supervisord.pid``, with ``ATS_HOME=H`` in its
  environment.

Paths are compared resolved (a relative ``--home`` against the process's own folder). ats-ctl
is a client, never part of the system, and so are the caller and its ancestors (the shell that
exported ATS_HOME); zombies are already gone. Only processes this user may read are seen.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: supervisord's pid file and socket, in the run folder (deploy/supervisord.conf)
PIDFILE = "supervisord.pid"
SOCKET = "supervisor.sock"
#: how long `stop` waits for SIGTERM to work before SIGKILL: the longest stopwaitsecs of
#: deploy/supervisord.conf (the broker's 15 s) and a margin
STOP_GRACE = 20.0
CLIENT = "ats-ctl"


@dataclass(frozen=True)
class HomeProcess:
    pid: int
    program: str  #: supervisord's program name, "supervisord", or the command (ats-bus)
    proc: psutil.Process | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.program})"


def _same(value: str, home: str, cwd: str | None) -> bool:
    if not value:
        return False
    if not os.path.isabs(value):
        if cwd is None:
            return False
        value = os.path.join(cwd, value)
    return os.path.realpath(value) == home


def home_args(cmdline: Sequence[str]) -> list[str]:
    """Every value given to ``--home`` on a command line (``--home X`` or ``--home=X``)."""
    out = []
    for i, arg in enumerate(cmdline):
        if arg == "--home" and i + 1 < len(cmdline):
            out.append(cmdline[i + 1])
        elif arg.startswith("--home="):
            out.append(arg.partition("=")[2])
    return out


def command_name(cmdline: Sequence[str]) -> str:
    """What a command line runs: ``python /venv/bin/ats-bus --home H`` -> ``ats-bus``,
    ``python -m ats.host.main x`` -> ``ats.host.main``."""
    args = list(cmdline)
    if args and os.path.basename(args[0]).startswith("python"):
        args = args[1:]
        while args and args[0].startswith("-") and args[0] not in ("-m", "-c"):
            args = args[1:]  # interpreter options (-u, -X dev, ...)
        if len(args) >= 2 and args[0] == "-m":
            return args[1]
        if args and args[0] == "-c":
            return "python -c"
    return os.path.basename(args[0]) if args else "?"


def classify(home: Path, pid: int, cmdline: Sequence[str], environ: Mapping[str, str] | None,
             cwd: str | None, supervisord: int | None) -> str | None:
    """The program a process runs for ``home``, or None when it is no part of it. Pure: the
    process's facts come as arguments."""
    target = os.path.realpath(home)
    env = environ or {}
    name = command_name(cmdline)
    if name == CLIENT:
        return None
    of_home = _same(env.get("ATS_HOME", ""), target, cwd)
    if pid == supervisord and of_home:
        return "supervisord"
    if of_home and env.get("SUPERVISOR_PROCESS_NAME"):
        return env["SUPERVISOR_PROCESS_NAME"]
    if any(_same(value, target, cwd) for value in home_args(cmdline)):
        return str(env.get("SUPERVISOR_PROCESS_NAME") or name)
    return None


def supervisord_pid(run_dir: Path) -> int | None:
    """The pid supervisord wrote into the run folder (None when there is no pid file). The
    file stays behind when supervisord is killed: the pid may be dead or reused."""
    try:
        return int((run_dir / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _facts(p: psutil.Process) -> tuple[list[str], dict[str, str] | None, str | None] | None:
    try:
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        cmdline = p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    try:
        environ: dict[str, str] | None = p.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        environ = None
    try:
        cwd: str | None = p.cwd()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        cwd = None
    return cmdline, environ, cwd


def find(home: Path, run_dir: Path | None = None,
         exclude: Iterable[int] = ()) -> list[HomeProcess]:
    """The live processes of ``home`` (see the module's docstring), by pid."""
    me = psutil.Process()
    skip = {me.pid, *(p.pid for p in me.parents()), *exclude}
    sv_pid = supervisord_pid(run_dir if run_dir is not None else home / "run")
    out = []
    for p in psutil.process_iter():
        if p.pid in skip:
            continue
        facts = _facts(p)
        if facts is None:
            continue
        program = classify(home, p.pid, *facts, supervisord=sv_pid)
        if program is not None:
            out.append(HomeProcess(p.pid, program, p))
    return sorted(out, key=lambda hp: hp.pid)


def dead_supervisord(home: Path, run_dir: Path | None = None) -> int | None:
    """The pid of ``home``'s supervisord when it died without cleaning up (kill -9): its pid
    file names a process that is gone (or that is no longer it). None otherwise."""
    pid = supervisord_pid(run_dir if run_dir is not None else home / "run")
    if pid is None:
        return None
    try:
        p = psutil.Process(pid)
        facts = _facts(p)
    except psutil.NoSuchProcess:
        return pid
    if facts is None:  # a zombie, or not ours to read: not a live supervisord of ours
        return pid
    if classify(home, pid, *facts, supervisord=pid) != "supervisord":
        return pid  # the pid was reused by another process
    return None


def forget_dead_supervisord(home: Path, run_dir: Path | None = None) -> int | None:
    """Remove the pid file and socket a killed supervisord left behind; its pid, or None."""
    run = run_dir if run_dir is not None else home / "run"
    pid = dead_supervisord(home, run)
    if pid is not None:
        for name in (PIDFILE, SOCKET):
            (run / name).unlink(missing_ok=True)
    return pid


def stop(procs: Sequence[HomeProcess], grace: float = STOP_GRACE) -> list[HomeProcess]:
    """SIGTERM each process (their normal stop path), SIGKILL those still alive after
    ``grace`` seconds; return the ones that had to be killed."""
    handles: dict[psutil.Process, HomeProcess] = {}
    for hp in procs:
        try:
            p = hp.proc or psutil.Process(hp.pid)
            p.terminate()  # psutil refuses a pid that was reused since it was found
        except psutil.NoSuchProcess:
            continue
        handles[p] = hp
    _, alive = psutil.wait_procs(list(handles), timeout=grace)
    killed = []
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
        killed.append(handles[p])
    psutil.wait_procs(alive, timeout=grace)
    return killed
