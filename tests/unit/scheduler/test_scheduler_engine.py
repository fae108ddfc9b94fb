"""The scheduler's engine with a pinned clock: due jobs run, a failure is reported, alerted and
retried with backoff, and the run records say what happened and how long it took."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from ats.scheduler.engine import Engine, JobFailed, Outcome, Policy
from ats.scheduler.jobs import Job, RunRecord

NY = ZoneInfo("America/New_York")
#: Wednesday 2026-11-18, 16:00 New York: the close of a regular session
CLOSE = dt.datetime(2026, 11, 18, 16, 0, tzinfo=NY).timestamp()
RUN_SECONDS = 2.5


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Executor:
    """Fails the first `failures` runs (raising), then succeeds; each run takes RUN_SECONDS."""

    def __init__(self, clock: Clock, failures: int, error: Exception | None = None) -> None:
        self.clock, self.failures, self.calls = clock, failures, []
        self.error = error or RuntimeError("venue said no")

    async def __call__(self, job: Job) -> Outcome:
        self.calls.append(self.clock.t)
        self.clock.t += RUN_SECONDS
        if len(self.calls) <= self.failures:
            raise self.error
        return Outcome("1 symbols, 5 new bars in 1 requests", 5)


def engine_for(failures: int, *, retries: int = 3, error: Exception | None = None,
               ) -> tuple[Engine, Clock, Executor, list[tuple[str, str, str]],
                          list[dict[str, RunRecord]]]:
    clock = Clock(CLOSE)
    execute = Executor(clock, failures, error)
    alerts: list[tuple[str, str, str]] = []
    saved: list[dict[str, RunRecord]] = []
    engine = Engine(execute, Policy(retries=retries, retry_seconds=60.0,
                                    after_close_minutes=30.0),
                    clock=clock, alert=lambda *a: alerts.append(a),
                    saved=lambda runs: saved.append({n: replace(r) for n, r in runs.items()}))
    engine.set_jobs({"daily": Job("daily", "after_close", symbols=("SPY",))})
    return engine, clock, execute, alerts, saved


def test_a_job_is_due_at_its_next_run_and_not_before() -> None:
    engine, clock, execute, _, _ = engine_for(0)
    due_at = CLOSE + 30 * 60
    assert engine.runs["daily"].next_run == due_at
    assert engine.wake_at() == due_at
    clock.t = due_at - 1
    assert asyncio.run(engine.tick()) == [] and not execute.calls
    clock.t = due_at
    assert asyncio.run(engine.tick()) == ["daily"]
    rec = engine.runs["daily"]
    assert (rec.ok, rec.last_run, rec.duration, rec.runs) == (True, due_at, RUN_SECONDS, 1)
    assert rec.result == "1 symbols, 5 new bars in 1 requests"
    assert rec.next_run == due_at + 86400  # Thursday's close, a regular session


def test_a_job_that_raises_is_reported_alerted_and_retried_with_doubling_backoff() -> None:
    engine, clock, execute, alerts, _ = engine_for(2)
    clock.t = engine.runs["daily"].next_run or 0.0
    asyncio.run(engine.tick())
    rec = engine.runs["daily"]
    assert rec.ok is False and rec.attempts == 1
    assert rec.result.startswith("RuntimeError: venue said no (at test_scheduler_engine.py:")
    assert rec.retry_at == clock.t + 60.0
    assert alerts[-1][:2] == ("WARNING", "daily")
    assert "failed (try 1 of 4), retrying in 60s: RuntimeError: venue said no" in alerts[-1][2]

    clock.t = rec.retry_at - 1
    assert asyncio.run(engine.tick()) == []  # not before its backoff
    clock.t = rec.retry_at
    asyncio.run(engine.tick())
    assert rec.attempts == 2 and rec.retry_at == clock.t + 120.0  # doubled
    assert "(try 2 of 4), retrying in 120s" in alerts[-1][2]

    clock.t = rec.retry_at
    asyncio.run(engine.tick())
    assert (rec.ok, rec.attempts, rec.retry_at) == (True, 0, None)
    assert (rec.runs, rec.failures) == (3, 2)
    assert alerts[-1][0] == "INFO" and "succeeded after 3 tries" in alerts[-1][2]
    gaps = [b - a for a, b in zip(execute.calls, execute.calls[1:], strict=False)]
    assert gaps == [RUN_SECONDS + 60.0, RUN_SECONDS + 120.0]


def test_a_job_that_keeps_failing_gives_up_until_its_next_run_with_an_error_alert() -> None:
    engine, clock, _, alerts, _ = engine_for(10, retries=1)
    clock.t = engine.runs["daily"].next_run or 0.0
    asyncio.run(engine.tick())
    clock.t = engine.runs["daily"].retry_at or 0.0
    asyncio.run(engine.tick())
    rec = engine.runs["daily"]
    assert (rec.ok, rec.retry_at, rec.attempts, rec.failures) == (False, None, 0, 2)
    assert [a[0] for a in alerts] == ["WARNING", "ERROR"]
    assert "failed 2 times, gave up until its next run" in alerts[-1][2]
    assert rec.next_run == CLOSE + 86400 + 30 * 60  # Thursday's after-close run stays


def test_a_known_failure_is_reported_without_a_traceback_location() -> None:
    engine, clock, _, _, _ = engine_for(1, error=JobFailed("SPY: no security definition"))
    clock.t = engine.runs["daily"].next_run or 0.0
    asyncio.run(engine.tick())
    assert engine.runs["daily"].result == "SPY: no security definition"


def test_a_run_asked_for_runs_at_once_and_is_recorded_as_handled() -> None:
    engine, clock, execute, _, saved = engine_for(0)
    engine.set_jobs({"daily": Job("daily", "after_close", symbols=("SPY",), run_requests=1)})
    assert engine.due(clock.t) == ["daily"]
    asyncio.run(engine.tick())
    rec = engine.runs["daily"]
    assert (rec.handled, rec.ok, len(execute.calls)) == (1, True, 1)
    assert rec.next_run == CLOSE + 30 * 60  # the regular run is still today's
    assert any(r["daily"].running for r in saved)  # "running" was saved while it ran
    assert engine.due(clock.t) == []


def test_a_removed_job_is_forgotten_and_a_changed_timing_is_placed_again() -> None:
    engine, _, _, _, _ = engine_for(0)
    engine.set_jobs({"daily": Job("daily", "0 9 * * *", symbols=("SPY",))})
    nine = dt.datetime(2026, 11, 19, 9, 0, tzinfo=NY).timestamp()
    assert engine.runs["daily"].next_run == nine
    engine.set_jobs({})
    assert engine.runs == {} and engine.wake_at() is None


def test_the_loop_runs_due_jobs_and_stops_when_asked() -> None:
    engine, clock, execute, _, _ = engine_for(0)
    waits: list[float] = []

    async def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock.t += seconds
        return clock.t > CLOSE + 31 * 60

    asyncio.run(engine.run_forever(wait))
    assert execute.calls == [CLOSE + 30 * 60]
    assert max(waits) <= 1.0  # it looks at the jobs file at least every second


@pytest.mark.parametrize(("attempts", "delay"), [(1, 60.0), (2, 120.0), (3, 240.0)])
def test_backoff_doubles(attempts: int, delay: float) -> None:
    assert Policy(retry_seconds=60.0).backoff(attempts) == delay


def test_a_job_removed_and_added_again_in_one_look_still_runs_when_asked() -> None:
    engine, clock, execute, _, _ = engine_for(0)
    engine.set_jobs({"daily": Job("daily", "after_close", symbols=("SPY",), run_requests=3)})
    asyncio.run(engine.tick())
    assert engine.runs["daily"].handled == 3
    engine.set_jobs({"daily": Job("daily", "after_close", symbols=("QQQ",), run_requests=1,
                                  id="again")})
    assert engine.due(clock.t) == ["daily"]
    asyncio.run(engine.tick())
    assert len(execute.calls) == 2 and engine.runs["daily"].handled == 1
