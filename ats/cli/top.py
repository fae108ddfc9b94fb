"""ats-ctl top: the resource figures of every process, live (the manager's `stats`)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from ats.cli.context import Ctl, pass_ctl
from ats.cli.output import echo_json, table
from ats.stats.histogram import Histogram

COLUMNS = ("name", "state", "pid", "cpu", "rss", "fds", "threads", "lag", "detail")
HEADERS = ("NAME", "STATE", "PID", "CPU %", "RSS MB", "FDS", "THR", "LAG MS", "")


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return ">60s" if math.isinf(seconds) else f"{seconds * 1000:.0f}"


def _detail(row: Mapping[str, Any]) -> str:
    """The bus's message rates; a strategy's order round trips (p50/p99 upper bounds)."""
    if row.get("messages_in_per_s") is not None:
        return (f"bus {row['messages_in_per_s']:.0f} msg/s in, "
                f"{row.get('messages_out_per_s') or 0:.0f} out")
    latency = row.get("order_latency")
    if not isinstance(latency, Mapping):
        return ""
    parts = []
    for stage in ("approve", "ack", "fill"):
        data = latency.get(stage)
        if not isinstance(data, Mapping):
            continue
        h = Histogram.from_dict(data)
        if h.count:
            parts.append(f"{stage} p50<={_ms(h.quantile(0.5))} p99<={_ms(h.quantile(0.99))} "
                         f"ms (n={h.count})")
    return "; ".join(parts)


def render(rows: Sequence[Mapping[str, Any]]) -> str:
    cells = []
    for r in rows:
        fds = r.get("num_fds")
        cells.append({
            "name": r["name"], "state": r.get("state"), "pid": r.get("pid") or None,
            "cpu": r.get("cpu_percent"), "rss": r.get("rss_mb"),
            "fds": f"{fds}/{r['max_fds']}" if fds is not None and r.get("max_fds") else fds,
            "threads": r.get("threads"), "lag": r.get("loop_lag_ms"), "detail": _detail(r)})
    return table(cells, COLUMNS, HEADERS)


@click.command()
@click.option("--once", is_flag=True, help="Print one table and exit.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON: with --once one list of rows, else one line of rows per refresh.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              help="Seconds between refreshes.")
@pass_ctl
def top(ctl: Ctl, once: bool, as_json: bool, interval: float) -> None:
    """CPU, resident memory, open files, threads and event-loop lag of every process, the
    bus's message rates and each strategy's order round trips, refreshed like `top`
    (Ctrl-C to stop)."""
    try:
        while True:
            rows = ctl.call("manager", "stats")
            if as_json:
                if once:
                    echo_json(rows)
                else:
                    click.echo(json.dumps(rows, default=str, separators=(",", ":")))
            else:
                if not once:
                    click.clear()
                    click.echo(f"ats top  {time.strftime('%H:%M:%S')}  every {interval:g}s "
                               "(Ctrl-C to stop)\n")
                click.echo(render(rows))
            if once:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        pass


COMMANDS = [top]
