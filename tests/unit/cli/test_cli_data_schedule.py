"""`ats-ctl data schedule add | list | remove | run` on a home's job files (no system running):
what is stored, what `list` shows of the scheduler's run records, and the refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from ats.cli.exitcodes import exit_code_for
from ats.cli.main import cli
from ats.config import Config, init_home
from ats.scheduler.engine import Engine, Outcome, Policy
from ats.scheduler.jobs import Paths, load_jobs, load_runs, save_runs

NY = ZoneInfo("America/New_York")
CLOSE = dt.datetime(2026, 11, 18, 16, 0, tzinfo=NY).timestamp()


@pytest.fixture
def home(tmp_path: Path) -> Config:
    return init_home(tmp_path / "home")


@pytest.fixture
def ctl(home: Config) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--home", str(home.home), "data", "schedule", *args],
                             catch_exceptions=False)

    return invoke


def test_add_stores_a_fetch_job(ctl: Callable[..., Result], home: Config) -> None:
    result = ctl("add", "daily", "--fetch", "SPY,QQQ", "--fetch", "VIX:IND", "--bar", "1d",
                 "--at", "after_close")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("scheduled daily: fetch SPY,QQQ,VIX:IND 1d (1y) at "
                                    "after_close; next run ")
    job = load_jobs(Paths.of(home.state_dir))["daily"]
    assert (job.symbols, job.bar, job.at, job.any_day, job.kind) == \
        (("SPY", "QQQ", "VIX:IND"), "1d", "after_close", False, "fetch")


def test_add_stores_a_python_job_with_its_file_made_absolute(
        ctl: Callable[..., Result], home: Config, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "myjob.py").write_text("def prices():\n    return None\n")
    monkeypatch.chdir(tmp_path)
    result = ctl("add", "mine", "--python", "myjob.py:prices", "--library", "research",
                 "--at", "0 18 * * 1-5")
    assert result.exit_code == 0, result.output
    job = load_jobs(Paths.of(home.state_dir))["mine"]
    assert job.python == f"{tmp_path / 'myjob.py'}:prices" and job.library == "research"


@pytest.mark.parametrize(("args", "message"), [
    (("--fetch", "SPY", "--at", "after close"), "neither after_close nor a CRON expression"),
    (("--fetch", "SPY:BOGUS", "--at", "after_close"), "unknown type 'BOGUS'"),
    (("--fetch", "SPY", "--duration", "1 fortnight", "--at", "after_close"), "bad duration"),
    (("--at", "after_close"), "either fetches SYMBOLS (--fetch) or runs a function"),
    (("--python", "json:dumps", "--at", "after_close"), "needs --library"),
    (("--python", "json:dumps", "--library", "ledger", "--at", "after_close"),
     "library 'ledger' belongs to the system"),
    (("--python", "no_such_module_xyz:f", "--library", "x", "--at", "after_close"),
     "no module named 'no_such_module_xyz'"),
    (("--python", "/no/such/job.py", "--library", "x", "--at", "after_close"), "no such file"),
    (("--fetch", "SPY", "--at", "0 12 * * 6"),
     "--at '0 12 * * 6' never falls on an XNYS trading day (--any-day runs it on any day)"),
])
def test_bad_input_is_refused_in_one_line(ctl: Callable[..., Result], args: tuple[str, ...],
                                          message: str) -> None:
    result = ctl("add", "bad", *args)
    assert result.exit_code == exit_code_for("BAD_INPUT")
    assert message in result.output and result.output.count("\n") == 1


def test_a_second_job_of_the_same_name_is_refused(ctl: Callable[..., Result]) -> None:
    assert ctl("add", "daily", "--fetch", "SPY", "--at", "after_close").exit_code == 0
    again = ctl("add", "daily", "--fetch", "QQQ", "--at", "after_close")
    assert again.exit_code == exit_code_for("JOB_EXISTS")
    assert "a job named 'daily' is already scheduled" in again.output


def test_remove_and_run_of_an_unknown_job_are_refused(ctl: Callable[..., Result]) -> None:
    for args in (("remove", "nope"), ("run", "nope")):
        result = ctl(*args)
        assert result.exit_code == exit_code_for("UNKNOWN_JOB")
        assert "no scheduled job named 'nope'" in result.output


def test_remove_unschedules(ctl: Callable[..., Result], home: Config) -> None:
    ctl("add", "daily", "--fetch", "SPY", "--at", "after_close")
    assert ctl("remove", "daily").output == "removed daily\n"
    assert load_jobs(Paths.of(home.state_dir)) == {}


def test_run_asks_the_scheduler_for_a_run(ctl: Callable[..., Result], home: Config) -> None:
    ctl("add", "daily", "--fetch", "SPY", "--at", "after_close")
    assert ctl("run", "daily", "--wait", "0").exit_code == 0
    assert ctl("run", "daily", "--wait", "0").exit_code == 0
    assert load_jobs(Paths.of(home.state_dir))["daily"].run_requests == 2


def test_run_with_no_scheduler_to_answer_says_so(ctl: Callable[..., Result]) -> None:
    ctl("add", "daily", "--fetch", "SPY", "--at", "after_close")
    result = ctl("run", "daily", "--wait", "0.3")
    assert result.exit_code == exit_code_for("JOB_NOT_RUN")
    assert "daily was not run within 0.3s" in result.output


def test_list_shows_each_jobs_last_result_run_time_and_duration(
        ctl: Callable[..., Result], home: Config) -> None:
    ctl("add", "good", "--fetch", "SPY", "--at", "after_close")
    ctl("add", "bad", "--fetch", "QQQ", "--at", "0 17 * * *", "--any-day")
    ctl("add", "new", "--fetch", "IWM", "--at", "after_close")
    paths = Paths.of(home.state_dir)
    clock = [CLOSE + 30 * 60]

    async def execute(job: object) -> Outcome:
        clock[0] += 4.25
        if getattr(job, "name", "") == "bad":
            raise RuntimeError("no answer from the venue")
        return Outcome("1 symbols, 7 new bars in 1 requests", 7)

    jobs = {n: j for n, j in load_jobs(paths).items() if n != "new"}
    engine = Engine(execute, Policy(retry_seconds=60.0), clock=lambda: clock[0],
                    saved=lambda runs: save_runs(paths, runs))
    engine.set_jobs(jobs)
    for name in ("good", "bad"):
        asyncio.run(engine.run(name))

    rows = {r["name"]: r for r in json.loads(ctl("list", "--json").output)}
    assert rows["good"]["ok"] is True and rows["good"]["duration"] == 4.25
    assert rows["good"]["last_run"] == CLOSE + 30 * 60
    assert rows["good"]["result_line"] == "ok: 1 symbols, 7 new bars in 1 requests"
    assert rows["bad"]["ok"] is False
    assert rows["bad"]["result_line"].startswith(
        "FAILED (1 of 1 runs, retry at 2026-11-18 21:31:08): RuntimeError: no answer from the "
        "venue")
    assert rows["new"]["result_line"] == "never run" and rows["new"]["last_run"] is None
    assert load_runs(paths)["good"].runs == 1

    text = ctl("list").output
    header, _, *lines = text.splitlines()
    assert header.split() == ["NAME", "WHAT", "AT", "NEXT", "RUN", "(UTC)", "LAST", "RUN",
                              "(UTC)", "DURATION", "LAST", "RESULT"]
    good = next(line for line in lines if line.startswith("good"))
    assert "2026-11-18 21:30:00" in good and "4.2s" in good and "ok: 1 symbols" in good
    bad = next(line for line in lines if line.startswith("bad"))
    assert "0 17 * * * (any day)" in bad and "FAILED" in bad
