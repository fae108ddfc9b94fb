"""Issue 17, scheduled data jobs, over the real processes: ats-scheduler under supervisord runs
a job a few seconds ahead that writes new bars fetched from the simulator into ArcticDB; `data
schedule run` runs one on demand; a Python job that raises is reported, retried with backoff
and alerted through ats-alerts; `data schedule list` shows each last result and duration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from systemkit import System, wait_for

from ats.cli.exitcodes import exit_code_for
from ats.scheduler.jobs import Paths, RunRecord, load_runs

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]

#: every third second, any day: "a few seconds ahead" without reading the clock here
SOON = "* * * * * */3"
FLAKY = '''
def job():
    raise ValueError("the source is down")
'''


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory([], {"scheduler": {"retries": 1, "retry_seconds": 1.0},
                                    "alerts": {"summary_time": ""}})
    return s


def jobs(system: System) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in system.json("data", "schedule", "list")}


def record(system: System, name: str) -> RunRecord | None:
    """The scheduler's run record of `name`, read from its file (cheaper than an ats-ctl)."""
    return load_runs(Paths.of(system.home / "state")).get(name)


def alerted(system: System, text: str) -> dict[str, dict[str, Any]]:
    """The alerts logged by ats-alerts whose title holds `text`, by level."""
    path = system.home / "log" / "alerts.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return {r["level"]: r for r in rows if text in r["title"]}


def stored(system: System, name: str) -> int:
    """Rows of a market_data symbol (SPY.1d), read from the system's ArcticDB."""
    from ats.data.store import BarStore

    store = BarStore(system.cfg().arctic_uri, "market_data")
    return store.info(name).rows if store.has(name) else 0


def test_the_scheduler_runs_under_supervisord(system: System) -> None:
    row = wait_for(lambda: (r := system.status().get("scheduler")) and r["last_heartbeat"]
                   and r, 30, "the scheduler's heartbeat in status")
    assert row["state"] == "RUNNING" and row["pid"] == system.pid_of("scheduler")


def test_a_job_scheduled_seconds_ahead_writes_new_bars_from_the_simulator(
        system: System) -> None:
    assert stored(system, "SPY.1d") == 0
    out = system.ctl("data", "schedule", "add", "spy", "--fetch", "SPY", "--bar", "1d",
                     "--duration", "2m", "--at", SOON, "--any-day").stdout
    assert out.startswith("scheduled spy: fetch SPY 1d (2m) at * * * * * */3 (any day)")
    wait_for(lambda: (r := record(system, "spy")) and r.ok, 60, "the job's first run")
    row = jobs(system)["spy"]
    assert row["ok"] and row["duration"] > 0 and row["next_run"] > row["last_run"]
    system.ctl("data", "schedule", "remove", "spy")
    wait_for(lambda: record(system, "spy") is None, 10, "the scheduler to drop the job")
    rows = stored(system, "SPY.1d")
    assert rows > 20
    first = "1 symbols, 0 new bars" if row["runs"] > 1 else f"1 symbols, {rows} new bars"
    assert row["result"].startswith(first)


def test_run_runs_a_job_now_and_prints_its_result(system: System) -> None:
    system.ctl("data", "schedule", "add", "qqq", "--fetch", "QQQ", "--duration", "1m",
               "--at", "after_close")
    out = system.ctl("data", "schedule", "run", "qqq", "--wait", "60").stdout
    assert out.startswith("qqq: ok in ") and "1 symbols" in out
    rec = record(system, "qqq")
    assert rec is not None and rec.handled == 1 and rec.ok and rec.duration
    line = next(x for x in system.ctl("data", "schedule", "list").stdout.splitlines()
                if x.startswith("qqq"))
    assert f"{rec.duration:.1f}s" in line and f"ok: {rec.result}" in line
    assert stored(system, "QQQ.1d") > 10


def test_a_python_job_that_raises_is_reported_retried_and_alerted(
        system: System, tmp_path: Path) -> None:
    path = tmp_path / "flaky.py"
    path.write_text(FLAKY)
    system.ctl("data", "schedule", "add", "flaky", "--python", str(path), "--library",
               "research", "--at", "after_close")
    run = system.ctl("data", "schedule", "run", "flaky", "--wait", "60", check=False)
    assert run.returncode == exit_code_for("JOB_FAILED")
    assert "flaky failed in" in run.stderr
    assert "ValueError: the source is down (at flaky.py:3 in job)" in run.stderr
    wait_for(lambda: (r := record(system, "flaky")) and r.runs == 2 and not r.running, 30,
             "the retry after 1 s")
    row = jobs(system)["flaky"]
    assert row["failures"] == 2 and row["retry_at"] is None  # retries = 1: it gave up
    assert row["result_line"].startswith("FAILED (2 of 2 runs): ValueError: the source is down")
    got = wait_for(lambda: len(a := alerted(system, "data job flaky")) == 2 and a, 30,
                   "the two alerts logged by ats-alerts")
    assert got["WARNING"]["title"].startswith(
        "scheduler: data job flaky failed (try 1 of 2), retrying in 1s")
    assert got["CRITICAL"]["title"].startswith("scheduler: data job flaky failed 2 times")
