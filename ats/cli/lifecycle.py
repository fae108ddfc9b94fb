"""ats-ctl init | up | down: create ATS_HOME, start and stop supervisord for it."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

import ats
from ats import apiclients
from ats import config as config_mod
from ats.cli import homeprocs, join, readiness
from ats.cli.context import Ctl, fail, pass_ctl
from ats.errors import Code
from ats.manager import venuesims
from ats.manager.supervisor import UNREACHABLE_ERRORS, Supervisor
from ats.web import logintoken

REPO_DEPLOY = Path(ats.__file__).resolve().parent.parent / "deploy" / "supervisord.conf"


#: seconds `ats-ctl up` waits for the processes, the venue connection and the strategies
READY_TIMEOUT = 120.0


def supervisord_conf(cfg: config_mod.Config) -> Path:
    """ATS_HOME/supervisord.conf overrides the shipped deploy/supervisord.conf (on a joined
    host, [hosts] role = "agent": deploy/agent-supervisord.conf)."""
    local = cfg.home / "supervisord.conf"
    if local.exists():
        return local
    if cfg.section("hosts")["role"] == "agent":
        return REPO_DEPLOY.with_name("agent-supervisord.conf")
    return REPO_DEPLOY


def supervisord_env(cfg: config_mod.Config) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ATS_HOME": str(cfg.home),
        "ATS_BIN": str(Path(sys.executable).parent),
        "ATS_SIM_AUTOSTART": "true" if cfg.venue["kind"] == "sim" else "false",
        "ATS_SIM_ARGS": shlex.join(venuesims.sim_args(cfg)),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def seed_client_problem(cfg: config_mod.Config) -> str | None:
    """Why the seed strategies, registered by the manager's first start, would take the venue
    past IB's API clients per Gateway; None when they fit or the registry is already seeded."""
    by_venue: dict[str, list[str]] = {}
    for item in cfg.seed_strategies():
        by_venue.setdefault(str(item.get("venue") or ""), []).append(str(item["name"]))
    problem = None
    for name, seeds in by_venue.items():
        venue = cfg.venue_named(name or None)  # a name the file lacks fails at load
        problem = problem or apiclients.refusal(apiclients.venue_name(cfg, venue), [],
                                                apiclients.system_client_ids(cfg, venue), seeds)
    if problem is None:
        return None
    from ats.manager import registry  # ArcticDB, read only when the seeds do not fit

    return f"{cfg.path} [manager] seed_strategies: {problem}" \
        if registry.is_empty(cfg.arctic_uri) else None


def supervisor_running(cfg: config_mod.Config) -> bool:
    if not cfg.supervisor_socket.exists():
        return False
    try:
        Supervisor(cfg.supervisor_socket).state()
        return True
    except UNREACHABLE_ERRORS:
        return False


def listing(procs: list[homeprocs.HomeProcess]) -> str:
    return ", ".join(str(p) for p in procs)


def processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


@click.command()
@click.option("--if-missing", is_flag=True, help="Do nothing when ATS_HOME already exists.")
@click.option("--venue", type=click.Choice(["sim", "ib"]), default=None)
@click.option("--port", type=int, default=None, help="The venue's port.")
@click.option("--join", "join_url", default=None, metavar="tcp://HOST:PORT",
              help="Make a joined host: only ats-agent and the strategies placed here, on the "
                   "main host's bus at HOST:PORT ([bus] host and base_port there) with CURVE.")
@click.option("--hub-key", type=click.Path(path_type=Path), default=None,
              help="With --join: the main host's public key (its state/keys/server.key).")
@click.option("--host-name", default=None, help="With --join: this host's name.")
@click.option("--gateway", default=None, metavar="HOST:PORT",
              help="With --join: the venue (default: the main host's address, port "
                   f"{config_mod.DEFAULTS['venue']['port']}).")
@pass_ctl
def init(ctl: Ctl, if_missing: bool, venue: str | None, port: int | None,
         join_url: str | None, hub_key: Path | None, host_name: str | None,
         gateway: str | None) -> None:
    """Create ATS_HOME: config file, run folder (0700), logs, ArcticDB store; with --join, a
    joined host's home (its own key pair; prints what to do on the main host)."""
    if join_url is not None:
        if hub_key is None or not host_name:
            fail("BAD_INPUT", "--join needs --hub-key FILE and --host-name NAME")
        try:
            joined = join.join(ctl.home, join_url, hub_key, host_name, gateway)
        except join.JoinError as exc:
            fail("BAD_INPUT", str(exc))
        click.echo(join.instructions(joined))
        return
    if (ctl.home / config_mod.CONFIG_FILE).exists():
        _ = ctl.cfg  # an existing file is checked: a broken one fails here, not at `up`
        if if_missing:
            return
        click.echo(f"{ctl.home} already holds {config_mod.CONFIG_FILE}; leaving it as is")
        return
    overrides: dict[str, dict[str, object]] = {"venue": {}}
    if venue:
        overrides["venue"]["kind"] = venue
    if port:
        overrides["venue"]["port"] = port
    try:
        cfg = config_mod.init_home(ctl.home, overrides)
    except config_mod.ConfigError as exc:
        fail("CONFIG", str(exc))
    logintoken.ensure(cfg.web_token_file)
    click.echo(f"initialised {cfg.home} (config {cfg.path}); the web console's login token "
               f"is in {cfg.web_token_file} (`ats-ctl web token`)")


@click.command()
@click.option("--foreground", is_flag=True, help="Run supervisord in the foreground; Ctrl-C "
              "stops everything.")
@click.option("--wait/--no-wait", default=True, help="Wait until the system is ready.")
@click.option("--timeout", type=float, default=READY_TIMEOUT, show_default=True,
              help="Seconds to wait for it.")
@pass_ctl
def up(ctl: Ctl, foreground: bool, wait: bool, timeout: float) -> None:
    """Start supervisord with the bus, broker, manager, simulator and strategies, and wait
    until every process runs and the broker is connected to the venue ("ats is ready"), or
    say what is not (exit 23)."""
    cfg = ctl.cfg
    if not cfg.path.exists():
        fail("CONFIG", f"{cfg.path} does not exist; run `ats-ctl init` first")
    config_mod.init_home(cfg.home)  # make sure every folder exists, with the right modes
    logintoken.ensure(cfg.web_token_file)  # a home made before the web console has none
    if supervisor_running(cfg):
        click.echo(f"already up (supervisord at {cfg.supervisor_socket})")
        return
    # Processes that outlived their supervisord (or were started by hand) would meet a second
    # set: two hubs on one socket, two brokers, strategies fighting over their clientIds.
    left = homeprocs.find(cfg.home, cfg.run_dir)
    if left:
        fail("ORPHANS", f"{cfg.home} still has {processes(len(left))} running without a "
             f"supervisord: {listing(left)}")
    problem = seed_client_problem(cfg)
    if problem is not None:
        fail(Code.TOO_MANY_CLIENTS, problem)
    if cfg.section("hosts")["role"] == "main":
        venuesims.write_sections(cfg)
    cmd = [str(Path(sys.executable).parent / "supervisord"), "-c", str(supervisord_conf(cfg))]
    env = supervisord_env(cfg)
    if foreground:
        click.echo(f"starting ats in the foreground (home {cfg.home}); Ctrl-C stops it all")
        click.echo(f"  logs: {cfg.log_dir}    status: ATS_HOME={cfg.home} ats-ctl status")
        click.echo(f"  web console: {cfg.web_url} (login token: ATS_HOME={cfg.home} "
                   "ats-ctl web token)")
        os.execve(cmd[0], [*cmd, "-n"], env)
    subprocess.run(cmd, env=env, check=True)
    if wait and cfg.section("hosts")["role"] == "agent":
        line = join.wait_agent(cfg, timeout)
        if line is None:
            fail("NOT_READY", f"the agent is not running after {timeout:g}s; see "
                 f"{cfg.log_dir / 'agent.log'}")
        click.echo(line)
        return
    if not wait:
        click.echo(f"ats is starting (home {cfg.home}); `ats-ctl status` shows how far")
        return
    click.echo(wait_ready(cfg, timeout))


def wait_ready(cfg: config_mod.Config, timeout: float) -> str:
    """Poll the manager's status until the system is ready; the ready line, or fail."""
    import zmq

    from bus.client import Requester
    from bus.errors import RequestError

    deadline = time.monotonic() + timeout
    last: readiness.Readiness | None = None
    with zmq.Context() as zctx:
        while time.monotonic() < deadline:
            req = Requester(zctx, cfg.endpoints.manager, timeout=5.0)
            try:
                last = readiness.assess(cfg, req.request("status", {}))
            except RequestError:
                last = None  # the manager is still starting
            finally:
                req.close()
            if last is not None and (last.ready or last.failed):
                break
            time.sleep(0.5)
    if last is None:
        fail(Code.SUPERVISOR_DOWN, f"the manager did not answer within {timeout:g}s; see "
             f"{cfg.log_dir}")
    if not last.ready:
        fail("NOT_READY", f"ats is not ready after {timeout:g}s: "
             + "; ".join(last.failed + last.waiting))
    return readiness.ready_line(cfg, last)


@click.command()
@pass_ctl
def down(ctl: Ctl) -> None:
    """Stop every process and supervisord, cleanly; also the processes of this ATS_HOME that
    outlived a dead supervisord (or were started by hand)."""
    cfg = ctl.cfg
    was_up = supervisor_running(cfg)
    if was_up:
        sv = Supervisor(cfg.supervisor_socket)
        pid = homeprocs.supervisord_pid(cfg.run_dir)
        with contextlib.suppress(*UNREACHABLE_ERRORS):  # it died since: its children go too
            sv.rpc.shutdown()
        deadline = time.monotonic() + 60
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    left = homeprocs.find(cfg.home, cfg.run_dir)
    if left:
        click.echo(f"stopping {processes(len(left))} of {cfg.home} running without a "
                   f"supervisord: {listing(left)}")
        killed = homeprocs.stop(left)
        click.echo(f"stopped {listing(left)}" + (
            f" ({listing(killed)} killed after {homeprocs.STOP_GRACE:.0f}s)" if killed else ""))
    dead = homeprocs.forget_dead_supervisord(cfg.home, cfg.run_dir)
    if dead is not None and not was_up:
        click.echo(f"supervisord (pid {dead}) had died; removed its pid file and socket")
    if not was_up and not left:
        click.echo("not running")
        return
    click.echo("ats is down")


COMMANDS = [init, up, down]
