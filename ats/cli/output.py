"""Tables and JSON for the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import click


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.2f}"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
          headers: Sequence[str] | None = None) -> str:
    headers = list(headers or [c.upper().replace("_", " ") for c in columns])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        out = []
        for i, v in enumerate(values):
            numeric = bool(cells) and all(_is_num(row[i]) for row in cells)
            out.append(v.rjust(widths[i]) if numeric else v.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [line(headers), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def _is_num(s: str) -> bool:
    return s == "-" or s.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def ago(ts: float | None, now: float | None = None) -> str:
    if not ts:
        return "-"
    now = now or dt.datetime.now().timestamp()
    return f"{max(0.0, now - ts):.1f}s ago"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds <= 0:
        return "-"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"
