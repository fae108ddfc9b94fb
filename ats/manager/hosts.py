"""The joined hosts as the manager sees them through their agents' heartbeats: what each
host's supervisord runs, when its agent last beat, and whether the host is LOST.

Pure: every time comes in as an argument. A host is LOST when its agent has not beaten for
``lost_seconds`` (or, never heard, that long after the manager started). ``changes`` reports
each host that went LOST or came back once, for the one alert each deserves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ats.agent.wire import info_of
from ats.manager.supervisor import ProcessInfo


@dataclass
class HostView:
    last_beat: float | None = None  #: when its agent last beat (the manager's clock)
    programs: dict[str, ProcessInfo] = field(default_factory=dict)  #: by program name
    supervisor_up: bool = True  #: its agent reached its supervisord at the last look


@dataclass(frozen=True)
class Change:
    host: str
    lost: bool  #: True: it went LOST; False: it came back
    silent: float | None  #: seconds since its agent's last beat (None: never heard)


class Hosts:
    def __init__(self, local: str, lost_seconds: float, started_at: float) -> None:
        self.local = local  #: this home's own host name ([hosts] name)
        self.lost_seconds = lost_seconds
        self.started_at = started_at
        self.views: dict[str, HostView] = {}
        self._lost: set[str] = set()  #: the hosts reported LOST and not back yet

    def is_remote(self, host: str) -> bool:
        return bool(host) and host != self.local

    def name(self, host: str) -> str:
        """A registry entry's host as shown: "" is this home's own."""
        return host or self.local

    def beat(self, host: str, body: Mapping[str, Any], now: float) -> bool:
        """An agent's heartbeat; True when its host was LOST or never heard before (its
        sections are then made the manager's again)."""
        view = self.views.get(host)
        arrived = view is None or view.last_beat is None or host in self._lost or \
            now - view.last_beat > self.lost_seconds
        view = self.views.setdefault(host, HostView())
        view.last_beat = now
        view.supervisor_up = bool(body.get("supervisor_up", True))
        rows = body.get("programs")
        if isinstance(rows, list):
            self.set_programs(host, rows)
        return arrived

    def set_programs(self, host: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """The host's strategy programs as its agent last reported them."""
        infos = [info_of(row) for row in rows]
        self.views.setdefault(host, HostView()).programs = {p.name: p for p in infos}

    def info(self, host: str, program: str) -> ProcessInfo | None:
        view = self.views.get(host)
        return view.programs.get(program) if view else None

    def last_beat(self, host: str) -> float | None:
        view = self.views.get(host)
        return view.last_beat if view else None

    def known(self, host: str) -> bool:
        """Its agent has been heard since the manager started."""
        return self.last_beat(host) is not None

    def silence(self, host: str, now: float) -> float:
        """Seconds its agent has been silent (since the manager started: never heard)."""
        last = self.last_beat(host)
        return now - (self.started_at if last is None else last)

    def is_lost(self, host: str, now: float) -> bool:
        return self.silence(host, now) > self.lost_seconds

    def changes(self, hosts: Iterable[str], now: float) -> list[Change]:
        """Each of ``hosts`` (those the registry places strategies on) that went LOST or came
        back since the last call."""
        out = []
        for host in sorted(set(hosts)):
            lost = self.is_lost(host, now)
            if lost == (host in self._lost):
                continue
            (self._lost.add if lost else self._lost.discard)(host)
            last = self.last_beat(host)
            out.append(Change(host, lost, None if last is None else now - last))
        return out
