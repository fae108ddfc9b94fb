"""The agent's names on the bus and the shape of the process rows it sends.

An agent of host ``b`` dials the manager's switchboard as ``agent.b`` (its service name) and
beats on ``hb.agent-b.`` (a bus name has no dot); each beat carries ``host`` and ``programs``,
the strategy programs of its supervisord as rows of ``ProcessInfo``'s fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from ats.manager.supervisor import ProcessInfo

#: the process name an agent beats as is this plus its host's name
PROCESS_PREFIX = "agent-"


def service_name(host: str) -> str:
    """The agent's service name and routing id at the manager's switchboard."""
    return f"agent.{host}"


def process_name(host: str) -> str:
    """The name the agent beats and logs as on the bus."""
    return f"{PROCESS_PREFIX}{host}"


def host_of(process: str) -> str | None:
    """The host of an agent's process name, or None when it is no agent's."""
    return process[len(PROCESS_PREFIX):] if process.startswith(PROCESS_PREFIX) else None


def info_row(info: ProcessInfo) -> dict[str, Any]:
    return asdict(info)


def info_of(row: Mapping[str, Any]) -> ProcessInfo:
    return ProcessInfo(name=str(row["name"]), state=str(row["state"]), pid=int(row["pid"]),
                       start=float(row["start"]), now=float(row["now"]),
                       exitstatus=int(row["exitstatus"]),
                       description=str(row.get("description", "")))
