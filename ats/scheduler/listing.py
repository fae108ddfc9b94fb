"""The scheduled jobs as `ats-ctl data schedule list` and the console's Schedule page show them:
each job's definition, its next run and how its last run went."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ats.scheduler import jobs as store
from ats.scheduler.engine import Policy
from ats.scheduler.jobs import Paths, RunRecord


def utc(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def result_line(rec: RunRecord) -> str:
    if rec.running:
        return "running"
    if rec.ok is None:
        return "never run"
    if rec.ok:
        return f"ok: {rec.result}"
    retry = f", retry at {utc(rec.retry_at)}" if rec.retry_at is not None else ""
    return f"FAILED ({rec.failures} of {rec.runs} runs{retry}): {rec.result}"


@dataclass(frozen=True)
class Schedule:
    """The jobs under a state folder, timed by the [scheduler] settings as the scheduler
    times them."""

    paths: Paths
    policy: Policy

    @classmethod
    def of(cls, state_dir: Path, section: Mapping[str, Any]) -> Schedule:
        return cls(Paths.of(state_dir), Policy.of(section))

    def rows(self, now: float) -> list[dict[str, Any]]:
        """One row per job, by name: its definition, its run record, ``next_run`` (the
        scheduler's, else computed) and ``result_line``. Raises JobError on unreadable files."""
        jobs, runs = store.load_jobs(self.paths), store.load_runs(self.paths)
        out: list[dict[str, Any]] = []
        for name, job in sorted(jobs.items()):
            rec = runs.get(name, RunRecord())
            nxt = rec.next_run if name in runs else self.policy.timing(job).next_run(now)
            out.append({**job.to_mapping(), **rec.to_mapping(), "name": name, "kind": job.kind,
                        "what": job.what, "next_run": nxt, "result_line": result_line(rec)})
        return out
