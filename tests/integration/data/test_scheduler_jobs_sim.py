"""The scheduler's runners against a real simulator and a real LMDB ArcticDB: a fetch job
stores new bars through the paced, resumable fetch; a Python job's DataFrame is written to its
library; a job's exceptions are captured with where they were raised."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pinned import SESSION_TS

from ats.config import Config
from ats.data.store import BarStore
from ats.scheduler.engine import Engine, JobFailed, Policy
from ats.scheduler.jobs import Job
from ats.scheduler.runners import Runner
from ats.storage.arctic import library

pytestmark = pytest.mark.timeout(120)

JOB_FILE = '''
import pandas as pd

def prices(ctx):
    ctx.log.info("job %s at %s", ctx.name, ctx.now)
    idx = pd.date_range("2026-01-01", periods=3, freq="D", tz="UTC")
    return pd.DataFrame({"value": [1.0, 2.0, 3.0]}, index=idx)

def broken():
    return {"not": "a frame"}

def job():
    raise ValueError("the source is down")
'''


def test_a_fetch_job_stores_new_bars_from_the_venue_and_resumes_on_the_next_run(
        home: Config) -> None:
    runner = Runner(home)
    job = Job("daily", "after_close", symbols=("SPY",), bar="1d", duration="3m")
    first = asyncio.run(runner(job))
    df = BarStore(home.arctic_uri, "market_data").read("SPY.1d")
    assert first.rows == len(df) > 50
    assert df.index[-1] < SESSION_TS.normalize()  # completed bars only
    assert "1 symbols" in first.summary and f"{len(df)} new bars" in first.summary
    again = asyncio.run(runner(job))
    assert again.rows == 0 and "0 new bars" in again.summary  # only the gap since is asked
    assert (home.state_dir / "data_pacing.json").exists()  # shared with `data fetch`


def test_a_fetch_job_for_an_unknown_contract_fails_with_the_venues_reason(
        home: Config) -> None:
    job = Job("bad", "after_close", symbols=("NOSUCHXYZ",), duration="1m")
    with pytest.raises(JobFailed, match="NOSUCHXYZ: no security definition"):
        asyncio.run(Runner(home)(job))


def test_a_python_job_writes_its_dataframe_into_the_named_library(
        home: Config, tmp_path: Path) -> None:
    path = tmp_path / "myjobs.py"
    path.write_text(JOB_FILE)
    job = Job("research", "after_close", python=f"{path}:prices", library="research",
              symbol="values")
    out = asyncio.run(Runner(home)(job))
    assert out.rows == 3 and "3 rows written to research/values (version 0)" in out.summary
    stored = library(home.arctic_uri, "research").read("values").data
    assert stored["value"].tolist() == [1.0, 2.0, 3.0]
    assert asyncio.run(Runner(home)(job)).summary.endswith("(version 1)")


def test_a_python_jobs_exception_and_wrong_result_are_captured_and_retried(
        home: Config, tmp_path: Path) -> None:
    path = tmp_path / "myjobs.py"
    path.write_text(JOB_FILE)
    clock = [SESSION_TS.timestamp()]
    alerts: list[tuple[str, str, str]] = []
    engine = Engine(Runner(home, clock=lambda: clock[0]), Policy(retries=1, retry_seconds=5.0),
                    clock=lambda: clock[0], alert=lambda *a: alerts.append(a))
    engine.set_jobs({"raises": Job("raises", "after_close", python=str(path), library="x"),
                     "wrong": Job("wrong", "after_close", python=f"{path}:broken",
                                  library="x")})
    asyncio.run(engine.run("raises"))
    asyncio.run(engine.run("wrong"))
    raises, wrong = engine.runs["raises"], engine.runs["wrong"]
    assert raises.ok is False
    assert raises.result == "ValueError: the source is down (at myjobs.py:13 in job)"
    assert raises.retry_at == clock[0] + 5.0
    assert wrong.result == f"{path}:broken returned dict, not a DataFrame"
    assert [a[0] for a in alerts] == ["WARNING", "WARNING"]
    assert "the source is down" in alerts[0][2]
    assert not library(home.arctic_uri, "x").list_symbols()
