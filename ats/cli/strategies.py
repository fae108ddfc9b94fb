"""ats-ctl start|stop|restart|status|list|add|remove|enable|disable|set|weights."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.output import ago, duration, echo_json, table
from ats.errors import Code

STATUS_COLUMNS = ["name", "state", "pid", "host", "venue_name", "client_id", "uptime",
                  "cpu_percent", "rss_mb", "last_heartbeat", "desired", "trading_state",
                  "errors_5m", "last_error", "last_error_time"]
STATUS_HEADERS = ["NAME", "STATE", "PID", "HOST", "VENUE", "CLIENT ID", "UPTIME", "CPU %",
                  "RSS MB", "LAST HEARTBEAT", "DESIRED", "TRADING", "ERRORS 5M", "LAST ERROR",
                  "LAST ERROR AT"]
PROCESS_COLUMNS = ["name", "state", "pid", "uptime", "cpu_percent", "rss_mb", "last_heartbeat",
                   "venue", "disk"]
PROCESS_HEADERS = ["PROCESS", "STATE", "PID", "UPTIME", "CPU %", "RSS MB", "LAST HEARTBEAT",
                   "VENUE", "DISK"]
#: Characters of the last error shown in the table (`--json` and `show` give all of it).
LAST_ERROR_WIDTH = 48


def clip(text: str | None, width: int) -> str | None:
    if text is None or len(text) <= width:
        return text
    return text[: width - 3] + "..."


def _status_rows(statuses: list[dict[str, Any]], now: float | None = None) -> list[dict[str, Any]]:
    now = time.time() if now is None else now
    return [{**s, "uptime": duration(s.get("uptime") or 0),
             "last_heartbeat": ago(s.get("last_heartbeat"), now),
             "pid": s.get("pid") or None,
             "last_error": clip(s.get("last_error"), LAST_ERROR_WIDTH),
             "last_error_time": ago(s.get("last_error_time"), now)
             if s.get("last_error_time") else None} for s in statuses]


def _one(ctl: Ctl, method: str, name: str) -> None:
    status = ctl.call("manager", method, {"name": name}, timeout=30)
    click.echo(f"{name}: {status['state']} (pid {status['pid'] or '-'}, "
               f"clientId {status['client_id']})")


@click.command()
@click.argument("strategy")
@pass_ctl
def start(ctl: Ctl, strategy: str) -> None:
    """Start a strategy (and remember that the operator wants it running)."""
    _one(ctl, "start", strategy)


@click.command()
@click.argument("strategy")
@pass_ctl
def stop(ctl: Ctl, strategy: str) -> None:
    """Stop a strategy; it stays stopped across restarts until `ats-ctl start`."""
    _one(ctl, "stop", strategy)


@click.command()
@click.argument("strategy")
@pass_ctl
def restart(ctl: Ctl, strategy: str) -> None:
    """Stop and start a strategy."""
    _one(ctl, "restart", strategy)


@click.command()
@click.argument("strategy", required=False)
@click.option("--json", "as_json", is_flag=True,
              help='A JSON list: the strategies, then the processes ("kind": "process").')
@pass_ctl
def status(ctl: Ctl, strategy: str | None, as_json: bool) -> None:
    """Each strategy's state, pid, clientId, uptime, last heartbeat, trading state, errors
    of its handlers in the last 5 minutes and the last one. ERRORING: running, but a handler
    raised within the last minute."""
    statuses = ctl.call("manager", "status", {"name": strategy} if strategy else {})
    if as_json:
        echo_json(statuses)
        return
    click.echo(render_status(statuses, time.time()))


def render_status(statuses: list[dict[str, Any]], now: float) -> str:
    """The strategies' table, then (when the manager reports them) the processes' table."""
    strategies = [s for s in statuses if s.get("kind", "strategy") == "strategy"]
    processes = [s for s in statuses if s.get("kind") == "process"]
    text = table(_status_rows(strategies, now), STATUS_COLUMNS, STATUS_HEADERS)
    if processes:
        rows = [{**row, "venue": _venue(row, now)} for row in _status_rows(processes, now)]
        text += "\n\n" + table(rows, PROCESS_COLUMNS, PROCESS_HEADERS)
    return text


def _venue(process: dict[str, Any], now: float) -> str | None:
    """The broker's link to the venue: "connected 5.0s ago (last 1102)"."""
    venue, since = process.get("venue"), process.get("venue_since")
    if venue is None or since is None:
        return venue
    code = process.get("venue_code")
    return f"{venue} {ago(since, now)}" + (f" (last {code})" if code else "")


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def list_(ctl: Ctl, as_json: bool) -> None:
    """The strategy registry (a strategy without a description of its own shows its class's
    `description`)."""
    entries = ctl.call("manager", "list")
    if as_json:
        echo_json(entries)
        return
    rows = [{**e, "weights": f"{e['min_weight']:.2f}/{e['target_weight']:.2f}/"
                             f"{e['max_weight']:.2f}"} for e in entries]
    click.echo(table(rows, ["name", "client_id", "spec", "enabled", "desired", "weights",
                            "description"],
                     ["NAME", "CLIENT ID", "SPEC", "ENABLED", "DESIRED", "MIN/TARGET/MAX",
                      "DESCRIPTION"]))


def _parse_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(Code.BAD_PARAMS, f"expected key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def _warn(reply: dict[str, Any]) -> None:
    """A forced change's warning, on stderr."""
    if reply.get("warning"):
        click.echo(f"warning: {reply['warning']}", err=True)


@click.command()
@click.argument("spec")
@click.option("--name", default=None, help="Registry name (default: the file's stem).")
@click.option("--description", default="")
@click.option("--target-weight", type=float, default=0.0)
@click.option("--min-weight", type=float, default=0.0)
@click.option("--max-weight", type=float, default=1.0)
@click.option("--param", "-p", "params", multiple=True, help="key=value (repeatable)")
@click.option("--force", is_flag=True, help="Register even if the target weights then sum past "
              "[risk] max_gross_leverage (with a warning).")
@click.option("--benchmark", default="", metavar="SYM",
              help="What `ats-ctl report` compares it with (default SPY).")
@click.option("--host", default="", metavar="HOST",
              help="Run it on this joined host (its agent must be on the bus; default: the "
                   "manager's own host).")
@click.option("--venue", default="", metavar="NAME",
              help="Trade on this venue: [venue] (the default) or a [[venues]] name.")
@pass_ctl
def add(ctl: Ctl, spec: str, name: str | None, description: str, target_weight: float,
        min_weight: float, max_weight: float, params: tuple[str, ...], force: bool,
        benchmark: str, host: str, venue: str) -> None:
    """Register a strategy from a .py file or a module path (strategies.ltmt).

    The file is imported and validated first; a broken file is refused. A strategy that
    sizes by weight will not start until it has a target weight."""
    path = Path(spec)
    if spec.endswith(".py"):
        if not path.exists():
            fail(Code.INVALID_STRATEGY, f"{spec}: no such file")
        spec = str(path.resolve())
    name = name or (path.stem if spec.endswith(".py") else spec.rsplit(".", 1)[-1])
    entry = ctl.call("manager", "add", {
        "name": name, "spec": spec, "description": description, "params": _parse_pairs(params),
        "target_weight": target_weight, "min_weight": min_weight, "max_weight": max_weight,
        **({"force": True} if force else {}),
        **({"benchmark": benchmark.upper()} if benchmark else {}),
        **({"host": host} if host else {}),
        **({"venue": venue} if venue else {}),
    }, timeout=30)
    _warn(entry)
    click.echo(f"registered {entry['name']} (clientId {entry['client_id']}); "
               f"`ats-ctl start {entry['name']}` to run it")


@click.command()
@click.argument("strategy")
@pass_ctl
def remove(ctl: Ctl, strategy: str) -> None:
    """Stop and unregister a strategy. Its clientId is never reused."""
    ctl.call("manager", "remove", {"name": strategy}, timeout=30)
    click.echo(f"removed {strategy}")


@click.command()
@click.argument("strategy")
@pass_ctl
def enable(ctl: Ctl, strategy: str) -> None:
    """Allow a strategy to be started."""
    ctl.call("manager", "enable", {"name": strategy})
    click.echo(f"enabled {strategy}")


@click.command()
@click.argument("strategy")
@pass_ctl
def disable(ctl: Ctl, strategy: str) -> None:
    """Stop a strategy and refuse to start it until enabled."""
    ctl.call("manager", "disable", {"name": strategy}, timeout=30)
    click.echo(f"disabled {strategy}")


@click.command(name="set")
@click.argument("strategy")
@click.argument("pairs", nargs=-1, required=True)
@pass_ctl
def set_(ctl: Ctl, strategy: str, pairs: tuple[str, ...]) -> None:
    """Change parameters at runtime: ats-ctl set ltmt ma_months=12."""
    result = ctl.call("manager", "set", {"name": strategy, "changes": _parse_pairs(pairs)},
                      timeout=15)
    ack = "acknowledged by the running strategy" if result.get("ack") else \
        "stored; applied at next start"
    click.echo(f"{strategy}: {', '.join(pairs)} ({ack})")


@click.command()
@click.argument("strategy")
@click.option("--target", type=float, default=None)
@click.option("--min", "min_", type=float, default=None)
@click.option("--max", "max_", type=float, default=None)
@click.option("--force", is_flag=True, help="Set it even if the target weights then sum past "
              "[risk] max_gross_leverage (with a warning).")
@pass_ctl
def weights(ctl: Ctl, strategy: str, target: float | None, min_: float | None,
            max_: float | None, force: bool) -> None:
    """Change a strategy's target/min/max weight of the account.

    The target weights of all registered strategies may sum to at most [risk]
    max_gross_leverage: a change past it is refused (exit 7), or made with a warning with
    --force. A change that lowers the sum is always allowed."""
    params: dict[str, Any] = {"name": strategy}
    for key, value in (("target_weight", target), ("min_weight", min_), ("max_weight", max_)):
        if value is not None:
            params[key] = value
    if force:
        params["force"] = True
    result = ctl.call("manager", "set_weights", params, timeout=15)
    _warn(result)
    e = result["entry"]
    click.echo(f"{strategy}: weights {e['min_weight']}/{e['target_weight']}/{e['max_weight']}")


COMMANDS = [start, stop, restart, status, list_, add, remove, enable, disable, set_, weights]
