"""Which job is due, running it, retrying a failure with backoff, and saying so.

The engine owns the run records. Time comes in through ``clock`` and waiting through ``wait``,
so tests drive it with a pinned clock; nothing here reads the wall clock itself. Jobs run one
at a time (they share one venue connection's historical pacing).

A failed run is tried again after ``retry_seconds``, doubling, ``retries`` times; every failure
is alerted (WARNING while tries remain, ERROR when it gives up), and a success after failures
is alerted as INFO. The next regular run is placed as usual meanwhile.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ats.scheduler.jobs import Job, RunRecord
from ats.scheduler.timing import Timing

log = logging.getLogger("ats.scheduler")

#: how long the loop sleeps at most between looks at the jobs file
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Outcome:
    """What a successful run did, in one line."""

    summary: str
    rows: int = 0


class JobFailed(Exception):
    """A run that failed in a known way; the message is the whole story (no traceback)."""


Execute = Callable[[Job], Awaitable[Outcome]]
#: (level, job name, message): publishes an alert
Alert = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Policy:
    retries: int = 3  #: tries after the first failure of a run
    retry_seconds: float = 60.0  #: the first retry's delay; each next one doubles
    after_close_minutes: float = 30.0
    tz: str = "America/New_York"

    @classmethod
    def of(cls, section: Mapping[str, Any]) -> Policy:
        """From the [scheduler] settings."""
        return cls(retries=int(section["retries"]), retry_seconds=float(section["retry_seconds"]),
                   after_close_minutes=float(section["after_close_minutes"]),
                   tz=str(section["tz"]))

    def timing(self, job: Job) -> Timing:
        return Timing(job.at, job.any_day, self.tz, self.after_close_minutes)

    def backoff(self, attempts: int) -> float:
        return float(self.retry_seconds * 2 ** max(attempts - 1, 0))


def describe(exc: BaseException) -> str:
    """One line for an exception: its type and text, and where a user's code raised it."""
    if isinstance(exc, JobFailed):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return text


class Engine:
    def __init__(self, execute: Execute, policy: Policy, *,
                 clock: Callable[[], float] = time.time,
                 alert: Alert = lambda level, name, message: None,
                 saved: Callable[[Mapping[str, RunRecord]], None] = lambda runs: None,
                 runs: Mapping[str, RunRecord] | None = None) -> None:
        self.execute, self.policy, self.clock = execute, policy, clock
        self.alert, self.saved = alert, saved
        self.jobs: dict[str, Job] = {}
        self.runs: dict[str, RunRecord] = dict(runs or {})

    # -- the jobs ----------------------------------------------------------------------------

    def set_jobs(self, jobs: Mapping[str, Job]) -> None:
        """Take the current definitions: new or changed jobs are (re)placed in time from now,
        removed ones are forgotten; a pending retry of an unchanged job is kept."""
        now = self.clock()
        for name in set(self.runs) - set(jobs):
            del self.runs[name]
        for name, job in jobs.items():
            old = self.jobs.get(name)
            rec = self.runs.get(name)
            if rec is None or rec.job_id != job.id:  # new, or removed and added again
                rec = self.runs[name] = RunRecord(job_id=job.id)
            rec.running = False
            if old is None or _timing_changed(old, job) or rec.next_run is None:
                rec.next_run = self._next(job, now)
        self.jobs = dict(jobs)
        self.saved(self.runs)

    def _next(self, job: Job, after: float) -> float | None:
        try:
            return self.policy.timing(job).next_run(after)
        except ValueError as exc:
            log.error("job %s: %s", job.name, exc)
            return None

    # -- what is due -------------------------------------------------------------------------

    def due(self, now: float) -> list[str]:
        """Jobs due at `now`, the longest waiting first."""
        waiting: list[tuple[float, str]] = []
        for name, job in self.jobs.items():
            rec = self.runs[name]
            if job.run_requests > rec.handled:
                waiting.append((float("-inf"), name))
                continue
            times = [t for t in (rec.next_run, rec.retry_at) if t is not None and t <= now]
            if times:
                waiting.append((min(times), name))
        return [name for _, name in sorted(waiting)]

    def wake_at(self) -> float | None:
        """The next instant a job becomes due (None: none is scheduled)."""
        times = [t for rec in self.runs.values() for t in (rec.next_run, rec.retry_at)
                 if t is not None]
        return min(times) if times else None

    # -- running -----------------------------------------------------------------------------

    async def run(self, name: str) -> RunRecord:
        """Run `name` once now, record how it went, and place its next run or retry."""
        job, rec = self.jobs[name], self.runs[name]
        requested = job.run_requests
        start = self.clock()
        rec.running, rec.last_run = True, start
        self.saved(self.runs)
        log.info("job %s: running (%s)", name, job.what)
        try:
            outcome = await self.execute(job)
        except Exception as exc:
            log.warning("job %s failed", name, exc_info=not isinstance(exc, JobFailed))
            self._failed(job, rec, describe(exc))
        else:
            self._succeeded(job, rec, outcome)
        end = self.clock()
        rec.running, rec.duration, rec.runs = False, round(end - start, 3), rec.runs + 1
        rec.handled = max(rec.handled, requested)
        if rec.next_run is None or rec.next_run <= end:
            rec.next_run = self._next(job, end)
        self.saved(self.runs)
        return rec

    def _succeeded(self, job: Job, rec: RunRecord, outcome: Outcome) -> None:
        log.info("job %s: ok: %s", job.name, outcome.summary)
        if rec.attempts:
            self.alert("INFO", job.name, f"data job {job.name} succeeded after "
                       f"{rec.attempts + 1} tries: {outcome.summary}")
        rec.ok, rec.result, rec.attempts, rec.retry_at = True, outcome.summary, 0, None

    def _failed(self, job: Job, rec: RunRecord, reason: str) -> None:
        rec.ok, rec.result, rec.failures = False, reason, rec.failures + 1
        rec.attempts += 1
        tries = self.policy.retries + 1
        if rec.attempts <= self.policy.retries:
            delay = self.policy.backoff(rec.attempts)
            rec.retry_at = self.clock() + delay
            self.alert("WARNING", job.name, f"data job {job.name} failed (try {rec.attempts} "
                       f"of {tries}), retrying in {delay:g}s: {reason}")
        else:
            rec.retry_at = None
            self.alert("ERROR", job.name, f"data job {job.name} failed {rec.attempts} times, "
                       f"gave up until its next run: {reason}")
            rec.attempts = 0

    async def tick(self) -> list[str]:
        """Run every job due now; the names run."""
        ran = []
        for name in self.due(self.clock()):
            if name in self.jobs:
                await self.run(name)
                ran.append(name)
        return ran

    async def run_forever(self, wait: Callable[[float], Awaitable[bool]],
                          reload: Callable[[], None] = lambda: None) -> None:
        """Until `wait` returns True (stop): reload the jobs, run what is due, wait."""
        while True:
            reload()
            await self.tick()
            now, wake = self.clock(), self.wake_at()
            delay = POLL_SECONDS if wake is None else min(max(wake - now, 0.0), POLL_SECONDS)
            if await wait(delay):
                return


def _timing_changed(old: Job, new: Job) -> bool:
    return (old.at, old.any_day) != (new.at, new.any_day)
