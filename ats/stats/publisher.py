"""The stats publisher: every ``[stats] interval`` seconds it samples every program that
supervisord runs (the system's processes and each strategy host) and publishes one
``stats.<process>`` message each, with the figures of the process's own heartbeat beside
psutil's (its event-loop lag; a host's order round trips; the hub's traffic), and publishes
``alert.<process>`` when a resource rule trips (ats.stats.rules).

It runs inside the manager, which already knows every program's pid from supervisord and hears
every heartbeat: a separate process would need its own supervisord client and subscription,
and be one more process to watch. psutil runs off the manager's loop (a thread), and the last
rows answer the manager's ``stats`` request (``ats-ctl top``) and fill ``status``'s
``rss_mb`` and ``cpu_percent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ats.manager.supervisor import strategy_of
from ats.stats.rules import Reading, ResourceRules, Thresholds
from ats.stats.sampler import Sampler
from bus import topics
from bus.publisher import Publisher

log = logging.getLogger("ats.stats")
STATS_TYPE = "stats"
ALERT_TYPE = "alert"
#: heartbeat fields copied into a process's stats
HB_FIELDS = ("loop_lag_ms", "order_latency")
#: the hub's traffic counters in its heartbeat (bus.hub.traffic)
BUS_COUNTERS = ("messages_in", "messages_out", "bytes_in", "bytes_out")


class Program(Protocol):
    """What the publisher needs of a supervisord program (ats.manager.supervisor.ProcessInfo)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def pid(self) -> int: ...


class StatsPublisher:
    def __init__(self, publisher: Publisher, section: Mapping[str, Any],
                 *, clock: Callable[[], float] = time.time) -> None:
        self.publisher, self.clock = publisher, clock
        self.interval = float(section.get("interval", 2.0))
        self.rules = ResourceRules(Thresholds.from_section(section))
        self.sampler = Sampler(clock)
        self.latest: dict[str, dict[str, Any]] = {}  #: process -> its last stats row
        self._bus_prev: tuple[float, dict[str, int]] | None = None  #: hub uptime, counters

    def rows(self) -> list[dict[str, Any]]:
        """The last rows: the system's processes, then the strategies, each by name."""
        return sorted(self.latest.values(), key=lambda r: (r["kind"] != "process", r["name"]))

    def figures(self, name: str) -> dict[str, Any]:
        """``rss_mb`` and ``cpu_percent`` of a process (None when not sampled)."""
        row = self.latest.get(name, {})
        return {"rss_mb": row.get("rss_mb"), "cpu_percent": row.get("cpu_percent")}

    def tick(self, programs: Iterable[Program],
             heartbeats: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Sample each program, publish its stats and any alert; return the rows."""
        rows: dict[str, dict[str, Any]] = {}
        for program in programs:
            strategy = strategy_of(program.name)
            name = strategy or program.name
            try:
                topics.validate_name(name)
            except ValueError:
                continue
            row = self._row(name, "strategy" if strategy else "process", program,
                            heartbeats.get(name, {}))
            rows[name] = row
            self.publisher.publish(topics.stats(name), STATS_TYPE, row)
            for alert in self._alerts(name, row):
                log.warning("%s", alert["message"])
                self.publisher.publish(topics.alert(name), ALERT_TYPE, alert)
        for gone in set(self.latest) - set(rows):
            self.rules.forget(gone)
        self.sampler.forget(r["pid"] for r in rows.values())
        self.latest = rows
        return self.rows()

    def _row(self, name: str, kind: str, program: Program,
             hb: Mapping[str, Any]) -> dict[str, Any]:
        pid = program.pid if program.state == "RUNNING" else 0
        sample = self.sampler.sample(pid) if pid else None
        row: dict[str, Any] = {
            "name": name, "kind": kind, "state": program.state, "pid": pid,
            "time": self.clock(), "cpu_percent": None, "cpu_seconds": None, "rss_bytes": None,
            "rss_mb": None, "threads": None, "num_fds": None, "max_fds": None, "age": None}
        if sample is not None:
            row.update(cpu_percent=sample.cpu_percent, cpu_seconds=sample.cpu_seconds,
                       rss_bytes=sample.rss_bytes, rss_mb=sample.rss_mb,
                       threads=sample.threads, num_fds=sample.num_fds,
                       max_fds=sample.max_fds, age=round(sample.age, 1))
        if hb.get("pid") == pid and pid:  # figures of this run of the process, not the last
            row.update({k: hb[k] for k in HB_FIELDS if k in hb})
            if name == "bus":
                row.update(self._bus_rates(hb))
        return row

    def _bus_rates(self, hb: Mapping[str, Any]) -> dict[str, Any]:
        """The hub's counters, and messages per second since the previous heartbeat seen."""
        if not all(isinstance(hb.get(k), int) for k in BUS_COUNTERS):
            return {}
        now, counts = float(hb.get("uptime") or 0.0), {k: int(hb[k]) for k in BUS_COUNTERS}
        out: dict[str, Any] = dict(counts)
        prev, self._bus_prev = self._bus_prev, (now, counts)
        if prev is not None and now > prev[0] and \
                all(counts[k] >= prev[1][k] for k in BUS_COUNTERS):
            dt = now - prev[0]
            for k in ("messages_in", "messages_out", "bytes_in", "bytes_out"):
                out[f"{k}_per_s"] = round((counts[k] - prev[1][k]) / dt, 1)
        elif prev is not None and now == prev[0]:
            return {**out, **{k: v for k, v in self.latest.get("bus", {}).items()
                              if k.endswith("_per_s")}}
        return out

    def _alerts(self, name: str, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        if not row["pid"] or row["age"] is None:
            return []
        reading = Reading(pid=row["pid"], age=row["age"], rss_bytes=row["rss_bytes"],
                          num_fds=row["num_fds"], max_fds=row["max_fds"],
                          loop_lag_ms=row.get("loop_lag_ms"))
        return self.rules.check(name, reading, self.clock())

    async def run(self, programs: Callable[[], Iterable[Program]],
                  heartbeats: Mapping[str, Mapping[str, Any]], stop: asyncio.Event) -> None:
        """Tick every interval until ``stop``; psutil runs in a thread, off the loop."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick, list(programs()), dict(heartbeats))
            except Exception:
                log.exception("stats sampling failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
