"""ats-ctl web url | token, and ats-ctl audit: the web console's address, login and audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ats.cli.context import Ctl, pass_ctl
from ats.cli.output import echo_json, table
from ats.web import audit as audit_mod
from ats.web import logintoken


@click.group()
def web() -> None:
    """The web console (ats-web): its address and its login token."""


@web.command()
@pass_ctl
def url(ctl: Ctl) -> None:
    """The address to open in a browser ([web] host and port)."""
    click.echo(ctl.cfg.web_url)


@web.command()
@pass_ctl
def token(ctl: Ctl) -> None:
    """The login token (ATS_HOME/state/web-token, 0600; made now if missing). Changes
    need it: the console is read-only without a login."""
    click.echo(logintoken.ensure(ctl.cfg.web_token_file))


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    ts = rec.get("ts")
    when = dt.datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"
    return {**rec, "when": when, "detail": rec.get("detail") or None}


@click.command()
@click.option("-n", "--lines", "n", type=click.IntRange(min=0), default=50, show_default=True,
              help="The last N actions (0: all).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def audit(ctl: Ctl, n: int, as_json: bool) -> None:
    """Every action taken through the web console: who (session, address), what, when, and
    its result (ok, refused, failed), from ATS_HOME/log/web-audit.jsonl."""
    records = audit_mod.read(ctl.cfg.web_audit_file, n)
    if as_json:
        echo_json(records)
        return
    click.echo(table([_row(r) for r in records],
                     ["when", "who", "remote", "action", "target", "result", "detail"]))


COMMANDS = [audit]
