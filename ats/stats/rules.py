"""Alerts on resources, from one process's readings over time (a pure core: the caller
passes the time, so tests use a fake clock).

- **RSS growth**: the resident memory of a process grew ``rss_growth_mb`` past its baseline,
  the RSS of its first reading once it is ``rss_warmup_seconds`` old (imports and caches fill
  in first). Each further ``rss_growth_mb`` alerts again.
- **Event-loop lag**: above ``loop_lag_ms`` in every reading for ``loop_lag_seconds`` (or one
  stall that long); it alerts once, then once more at INFO when the lag is back under.
- **File descriptors**: open descriptors at ``fd_ratio`` of the process's limit or more; once,
  until they are back under.

A new pid (the process restarted) starts every rule over. Each alert names its ``rule`` and
a ``key`` (the rule; ``loop_lag_recovered`` for the all-clear) by which the alerts service folds
repeats whose figures differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MB = 1024 * 1024
WARNING = "WARNING"
INFO = "INFO"


@dataclass(frozen=True)
class Thresholds:
    rss_growth_mb: float = 256.0
    rss_warmup_seconds: float = 60.0
    loop_lag_ms: float = 500.0
    loop_lag_seconds: float = 10.0
    fd_ratio: float = 0.8

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> Thresholds:
        """From ats.toml's [stats] section (other keys are ignored)."""
        return cls(**{f.name: float(section[f.name]) for f in fields(cls) if f.name in section})


@dataclass(frozen=True)
class Reading:
    pid: int
    age: float  #: seconds since the process started
    rss_bytes: int | None = None
    num_fds: int | None = None
    max_fds: int | None = None
    loop_lag_ms: float | None = None


@dataclass
class _State:
    pid: int
    rss_baseline: int | None = None
    rss_steps: int = 0  #: growth alerts sent
    lag_since: float | None = None  #: when the lag went above the threshold
    lag_alerted: bool = False
    fds_alerted: bool = False


class ResourceRules:
    """Each process's rule state; ``check`` returns the alerts that a reading raises, as
    bodies for ``alert.<process>`` (``level``, ``message``, ``process``, ``rule``, figures)."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._states: dict[str, _State] = {}

    def forget(self, process: str) -> None:
        self._states.pop(process, None)

    def check(self, process: str, reading: Reading, now: float) -> list[dict[str, Any]]:
        state = self._states.get(process)
        if state is None or state.pid != reading.pid:
            state = self._states[process] = _State(reading.pid)
        alerts = [*self._rss(process, state, reading), *self._lag(process, state, reading, now),
                  *self._fds(process, state, reading)]
        for alert in alerts:  # "key": what repeats fold by at the alerts service
            alert.update(process=process, pid=reading.pid)
            alert.setdefault("key", alert["rule"])
        return alerts

    def _rss(self, process: str, state: _State, r: Reading) -> list[dict[str, Any]]:
        t = self.thresholds
        if r.rss_bytes is None or r.age < t.rss_warmup_seconds:
            return []
        if state.rss_baseline is None:
            state.rss_baseline = r.rss_bytes
            return []
        growth_mb = (r.rss_bytes - state.rss_baseline) / MB
        if growth_mb < t.rss_growth_mb * (state.rss_steps + 1):
            return []
        state.rss_steps = int(growth_mb // t.rss_growth_mb)
        return [{"level": WARNING, "rule": "rss_growth",
                 "message": f"{process}: resident memory grew {growth_mb:.0f} MB to "
                            f"{r.rss_bytes / MB:.0f} MB since its baseline of "
                            f"{state.rss_baseline / MB:.0f} MB (threshold "
                            f"{t.rss_growth_mb:g} MB)",
                 "rss_mb": round(r.rss_bytes / MB, 1), "growth_mb": round(growth_mb, 1)}]

    def _lag(self, process: str, state: _State, r: Reading, now: float) -> list[dict[str, Any]]:
        t = self.thresholds
        if r.loop_lag_ms is None:
            return []
        if r.loop_lag_ms <= t.loop_lag_ms:
            state.lag_since = None
            if not state.lag_alerted:
                return []
            state.lag_alerted = False
            return [{"level": INFO, "rule": "loop_lag", "key": "loop_lag_recovered",
                     "message": f"{process}: event-loop lag back to {r.loop_lag_ms:.0f} ms "
                                f"(threshold {t.loop_lag_ms:g} ms)",
                     "loop_lag_ms": r.loop_lag_ms}]
        if state.lag_since is None:
            state.lag_since = now
        lasted = max(now - state.lag_since, r.loop_lag_ms / 1000.0)
        if state.lag_alerted or lasted < t.loop_lag_seconds:
            return []
        state.lag_alerted = True
        return [{"level": WARNING, "rule": "loop_lag",
                 "message": f"{process}: event-loop lag above {t.loop_lag_ms:g} ms for "
                            f"{lasted:.0f} s (now {r.loop_lag_ms:.0f} ms)",
                 "loop_lag_ms": r.loop_lag_ms, "seconds": round(lasted, 1)}]

    def _fds(self, process: str, state: _State, r: Reading) -> list[dict[str, Any]]:
        t = self.thresholds
        if r.num_fds is None or not r.max_fds:
            return []
        if r.num_fds < t.fd_ratio * r.max_fds:
            state.fds_alerted = False
            return []
        if state.fds_alerted:
            return []
        state.fds_alerted = True
        return [{"level": WARNING, "rule": "fds",
                 "message": f"{process}: {r.num_fds} open file descriptors of its limit "
                            f"{r.max_fds} ({r.num_fds / r.max_fds:.0%}, threshold "
                            f"{t.fd_ratio:.0%})",
                 "num_fds": r.num_fds, "max_fds": r.max_fds}]
