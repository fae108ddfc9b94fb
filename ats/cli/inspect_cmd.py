"""ats-ctl logs | show: look at one strategy (its log file; its parameters and health)."""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.output import ago, echo_json, table
from ats.errors import Code
from bus.topics import validate_name

#: Processes whose supervisord log is log/<name>.log; any other name is a strategy's.
SERVICE_LOGS = frozenset({"gateway-sim", "bus", "broker", "manager", "web", "alerts",
                           "scheduler", "supervisord"})
#: Bytes read at a time from the end of a log.
BLOCK = 8192
#: Seconds between looks at a followed log.
FOLLOW_POLL = 0.25


def log_path(log_dir: Path, name: str) -> Path:
    """A strategy's log (supervisord's stdout_logfile of program strategy-NAME), or a
    service's."""
    return log_dir / (f"{name}.log" if name in SERVICE_LOGS else f"strategy-{name}.log")


def last_lines(path: Path, n: int, end: int | None = None) -> list[str]:
    """The last ``n`` lines of ``path``'s first ``end`` bytes (default: all of it), without
    their newlines, reading from the end."""
    if n <= 0:
        return []
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        end = size if end is None else min(end, size)
        blocks: list[bytes] = []
        newlines, pos = 0, end
        # n + 1 newlines make sure the first of the n lines is whole.
        while pos > 0 and newlines <= n:
            step = min(BLOCK, pos)
            pos -= step
            f.seek(pos)
            blocks.append(f.read(step))
            newlines += blocks[-1].count(b"\n")
    lines = b"".join(reversed(blocks)).decode(errors="replace").splitlines()
    return lines[-n:]


def follow(path: Path, offset: int, stop: Callable[[], bool] = lambda: False,
           poll: float = FOLLOW_POLL) -> Iterator[str]:
    """Text of ``path`` from byte ``offset`` on, as it arrives, until ``stop()``. A log that
    supervisord rotates (renamed, or shorter than what was read) is read again from its
    start."""
    f = path.open("rb")
    f.seek(offset)
    inode = os.fstat(f.fileno()).st_ino
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # whole characters
    try:
        while not stop():
            chunk = f.read()
            if chunk:
                text = decoder.decode(chunk)
                if text:
                    yield text
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                st = None  # between the rename and the new file
            if st is not None and (st.st_ino != inode or st.st_size < f.tell()):
                f.close()
                f = path.open("rb")
                inode = os.fstat(f.fileno()).st_ino
                continue
            time.sleep(poll)
    finally:
        f.close()


@click.command()
@click.argument("name")
@click.option("-n", "--lines", "n", type=click.IntRange(min=0), default=10, show_default=True,
              help="Print the last N lines.")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Then print what is appended "
              "(Ctrl-C to stop).")
@pass_ctl
def logs(ctl: Ctl, name: str, n: int, follow_: bool) -> None:
    """The last lines of a strategy's log (ATS_HOME/log/strategy-NAME.log), like
    `supervisorctl tail`; NAME may also be broker, manager, bus, gateway-sim, web or
    supervisord."""
    try:
        validate_name(name)
    except ValueError as exc:
        fail(Code.BAD_NAME, str(exc))
    path = log_path(ctl.cfg.log_dir, name)
    if not path.exists():
        fail("NO_LOG", f"no log for {name}: {path} does not exist")
    # One size for both: the lines printed and those followed neither overlap nor leave a gap.
    size = path.stat().st_size
    for line in last_lines(path, n, size):
        click.echo(line)
    if follow_:
        try:
            for text in follow(path, size):
                click.echo(text, nl=False)
        except KeyboardInterrupt:
            pass


def _weights(d: dict[str, Any]) -> str:
    return (f"min {d['min_weight']:.2%}  target {d['target_weight']:.2%}  "
            f"max {d['max_weight']:.2%} of the account")


def _last_error(status: dict[str, Any], now: float) -> str:
    if not status.get("last_error"):
        return "-"
    where = f" in {status['last_error_where']}" if status.get("last_error_where") else ""
    return f"{status['last_error']}{where}, {ago(status.get('last_error_time'), now)}"


def describe(d: dict[str, Any], now: float | None = None) -> str:
    """The text of `ats-ctl show` from the manager's `describe` answer."""
    now = time.time() if now is None else now
    st = d.get("status") or {}
    pid = f" (pid {st['pid']})" if st.get("pid") else ""
    fields = [
        ("name", d["name"]),
        ("description", d.get("description") or "-"),
        ("spec", d["spec"] + ("" if d.get("loads", True) else "  (does not load)")),
        ("client id", d["client_id"]),
        ("enabled", "yes" if d["enabled"] else "no"),
        ("desired", d["desired"]),
        ("state", f"{st.get('state', '-')}{pid}"),
        ("trading state", st.get("trading_state") or "-"),
        ("weights", _weights(d)),
        ("errors (5 min)", st.get("errors_5m", 0)),
        ("last error", _last_error(st, now)),
    ]
    width = max(len(k) for k, _ in fields) + 1
    lines = [f"{k + ':':<{width}} {v}" for k, v in fields]
    lines += ["", "parameters:", table(d["params"], ["name", "type", "default", "value", "doc"])]
    return "\n".join(lines)


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def show(ctl: Ctl, name: str, as_json: bool) -> None:
    """One strategy: description, parameters (type, default, current value), weights, state,
    trading state and last error."""
    result = ctl.call("manager", "describe", {"name": name}, timeout=30)
    if as_json:
        echo_json(result)
        return
    click.echo(describe(result))


COMMANDS = [logs, show]
