"""The last lines of a strategy's or a service's log file, as `ats-ctl logs` prints them."""

from __future__ import annotations

from pathlib import Path

from ats.cli.inspect_cmd import last_lines, log_path
from bus.topics import validate_name


def tail(log_dir: Path, name: str, n: int) -> list[str]:
    """The last ``n`` lines of ``name``'s log; none when it has no log yet. ValueError for a
    name that is not a strategy's or a process's."""
    path = log_path(log_dir, validate_name(name))
    return last_lines(path, n) if path.exists() else []
