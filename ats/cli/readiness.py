"""When `ats-ctl up` may say "ats is ready": every process RUNNING, the broker connected to the
venue, and every strategy the operator wants running RUNNING; else what is not, and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ats import config as config_mod

#: states a process or strategy does not leave by itself
FAILED = frozenset({"FATAL", "EXITED", "CRASH_LOOP", "UNKNOWN"})
UP = frozenset({"RUNNING", "ERRORING"})
#: what to look at when a process does not run (str.format: name, venue_port, web_port)
HINTS = {
    "gateway-sim": " ([sim] or [venue] port {venue_port} in use? see ats-ctl logs gateway-sim)",
    "web": " ([web] port {web_port} in use? see ats-ctl logs web)",
}


@dataclass
class Readiness:
    waiting: list[str] = field(default_factory=list)  #: may still come up
    failed: list[str] = field(default_factory=list)  #: will not come up by itself
    running: int = 0  #: strategies up
    wanted: int = 0  #: strategies the operator wants running

    @property
    def ready(self) -> bool:
        return not self.waiting and not self.failed


def assess(cfg: config_mod.Config, statuses: list[dict[str, Any]]) -> Readiness:
    r = Readiness()
    venue = cfg.venue
    for s in statuses:
        name, state = s["name"], s["state"]
        if s.get("kind") == "process":
            if name == "gateway-sim" and venue["kind"] != "sim":
                continue
            if state != "RUNNING":
                hint = HINTS.get(name, " (see ats-ctl logs {name})").format(
                    name=name, venue_port=venue["port"], web_port=cfg.data["web"]["port"])
                (r.failed if state in FAILED else r.waiting).append(f"{name} {state}{hint}")
            elif name == "broker" and s.get("venue") != "connected":
                r.waiting.extend(_unconnected(cfg, s))
        elif state == "LOST":
            continue  # another host's, lost as a whole: alerted, and no reason to wait here
        elif s.get("desired") == "running" and s.get("enabled", True):
            r.wanted += 1
            if state in UP:
                r.running += 1
            else:
                (r.failed if state in FAILED else r.waiting).append(
                    f"strategy {name} {state} (see ats-ctl logs {name})")
    return r


def _unconnected(cfg: config_mod.Config, broker: dict[str, Any]) -> list[str]:
    """The venues whose master connection is not up, each in a line."""
    venues = broker.get("venues") or {cfg.venue["name"]: broker}
    out = []
    for v in cfg.venues:
        if (venues.get(v["name"]) or {}).get("venue") != "connected":
            table = "[venue]" if v["name"] == cfg.venue["name"] else f"[[venues]] {v['name']!r}"
            out.append(f"the broker is not connected to the venue at {v['host']}:{v['port']} "
                       f"({table} host and port in ats.toml)")
    return out


def ready_line(cfg: config_mod.Config, r: Readiness, now: dt.datetime | None = None) -> str:
    venues = "; ".join(f"{v['host']}:{v['port']} ({v['kind']})" for v in cfg.venues)
    which = "the venue" if len(cfg.venues) == 1 else f"{len(cfg.venues)} venues"
    return (f"ats is ready: {r.running} of {r.wanted} strategies running, the broker connected "
            f"to {which} at {venues}; "
            f"web console {cfg.web_url}; home {cfg.home}"
            f"{_sim_clock_note(cfg, now or dt.datetime.now(dt.UTC))}")


def _sim_clock_note(cfg: config_mod.Config, now: dt.datetime) -> str:
    """Says when the simulator's clock started in the last session (the market is closed)."""
    sim = cfg.section("sim")
    if cfg.venue["kind"] != "sim" or sim.get("start") or sim.get("clock") != "session":
        return ""
    from ats.sim.calendar import demo_start

    start = demo_start(now)
    if start == now:
        return ""
    return (f"; the market is closed, so the simulator's clock started in the last session, "
            f"{start:%a %Y-%m-%d} (see ats-ctl logs gateway-sim)")
