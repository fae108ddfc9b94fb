"""ats-ctl alerts [-n N] [--json], and ats-ctl alerts test: the recent alerts, and a test
message to every configured URL."""

from __future__ import annotations

import datetime as dt
import getpass
import socket
import time
from typing import Any

import click

from ats.alerts import delivery
from ats.alerts.model import Level
from ats.alerts.store import AlertLog
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.output import echo_json, table


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    ts = rec.get("ts")
    when = dt.datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"
    return {**rec, "when": when, "folded": rec.get("folded") or None}


@click.group(invoke_without_command=True)
@click.option("-n", "--lines", "n", type=click.IntRange(min=1), default=20, show_default=True,
              help="The last N alerts.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def alerts(ctx: click.Context, n: int, as_json: bool) -> None:
    """The recent alerts (ATS_HOME/log/alerts.jsonl): when, level, what, how many repeats
    were folded into it, and its fate: sent, folded (into a later repeat) or held (by the rate
    limit, sent in a digest)."""
    if ctx.invoked_subcommand is not None:
        return
    ctl: Ctl = ctx.find_object(Ctl)  # type: ignore[assignment]
    records = AlertLog(ctl.cfg.alerts_log_file).recent(n)
    if as_json:
        echo_json(records)
        return
    click.echo(table([_row(r) for r in records],
                     ["when", "level", "source", "title", "folded", "fate"]))


@alerts.command("test")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def test_cmd(ctl: Ctl, as_json: bool) -> None:
    """Send a test message to every URL of [alerts] urls, whatever its min_level, and report
    each result (exit 24 when one failed)."""
    dests = delivery.destinations(ctl.cfg.section("alerts")["urls"])
    if not dests:
        fail("BAD_INPUT", f"no alert URLs configured ([alerts] urls in {ctl.cfg.path})")
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    rows = []
    for d in dests:
        start = time.monotonic()
        r = delivery.send(d, "[ats TEST] test alert",
                          f"A test alert from `ats-ctl alerts test` by {who} for {ctl.cfg.home}; "
                          f"this URL receives {d.min_level.name} and above.", Level.INFO)
        rows.append({"url": d.masked, "min_level": d.min_level.name,
                     "result": "ok" if r.ok else "failed", "error": r.error or None,
                     "seconds": round(time.monotonic() - start, 2)})
    if as_json:
        echo_json(rows)
    else:
        click.echo(table(rows, ["url", "min_level", "result", "seconds", "error"]))
    failed = sum(1 for r in rows if r["result"] != "ok")
    if failed:
        fail("NOT_DELIVERED", f"{failed} of {len(rows)} alert URLs failed")


