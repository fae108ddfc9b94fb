"""ats-ctl data schedule add | list | remove | run: scheduled data jobs (ats/scheduler).

The definitions go to ``state/scheduler/jobs.json``; the scheduler process (ats-scheduler,
under supervisord) sees each change within a second and keeps what it did in ``runs.json``.
"""

from __future__ import annotations

import time

import click

from ats.barsizes import SIZES
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.output import echo_json, table
from ats.data.naming import SymbolError, parse_symbol
from ats.data.ranges import parse_duration
from ats.scheduler import jobs as store
from ats.scheduler.jobs import Job, JobError, JobExists, Paths
from ats.scheduler.listing import Schedule, utc
from ats.scheduler.runners import check_spec
from ats.scheduler.timing import AFTER_CLOSE

BAD_INPUT = "BAD_INPUT"
#: seconds between looks at runs.json while `run` waits
RUN_POLL = 0.2


def schedule_of(ctl: Ctl) -> Schedule:
    return Schedule.of(ctl.cfg.state_dir, ctl.cfg.section("scheduler"))


def paths_for(ctl: Ctl) -> Paths:
    return schedule_of(ctl).paths


def _symbols(values: tuple[str, ...]) -> tuple[str, ...]:
    out = tuple(s.strip() for v in values for s in v.split(",") if s.strip())
    for s in out:
        try:
            parse_symbol(s)
        except SymbolError as exc:
            fail(BAD_INPUT, str(exc))
    return out


@click.group()
def schedule() -> None:
    """Scheduled data jobs, run by the ats-scheduler process."""


@schedule.command()
@click.argument("name")
@click.option("--fetch", "symbols", multiple=True,
              help="Symbols to keep fetched, comma-separated or repeated: SPY,QQQ.")
@click.option("--python", "python", default="",
              help="Or a function that returns a DataFrame: module:function, or "
                   "path/file.py[:function] (default function: job).")
@click.option("--at", "at", required=True,
              help=f"'{AFTER_CLOSE}' (the XNYS close, + [scheduler] after_close_minutes) or a "
                   "CRON expression: 'minute hour day month weekday [second]'.")
@click.option("--any-day", is_flag=True,
              help="A CRON job also runs on weekends and exchange holidays.")
@click.option("--bar", "bar_size", type=click.Choice(list(SIZES)), default="1d",
              show_default=True, help="Fetch: bar size.")
@click.option("--duration", default="1y", show_default=True,
              help="Fetch: how far back the stored history must reach (10y, 6m, 2w, 30d).")
@click.option("--library", default="", help="Python: the ArcticDB library to write.")
@click.option("--symbol", default="", help="Python: the symbol to write (default: NAME).")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Python: seconds a run may take.")
@pass_ctl
def add(ctl: Ctl, name: str, symbols: tuple[str, ...], python: str, at: str, any_day: bool,
        bar_size: str, duration: str, library: str, symbol: str, timeout: float) -> None:
    """Schedule NAME: fetch SYMBOLS' bars, or run a Python job, at a time.

    A fetch job goes through the paced, resumable fetch of `ats-ctl data fetch` (into
    [data] library); a Python job's DataFrame is written to --library as a new version of
    --symbol. Jobs run on exchange sessions only (XNYS: no weekends, no holidays), unless a
    CRON job has --any-day. A failed run is retried with backoff and alerted.
    """
    syms = _symbols(symbols)
    try:
        parse_duration(duration)
        spec = check_spec(python) if python else ""
    except ValueError as exc:
        fail(BAD_INPUT, str(exc))
    job = Job(name=name, at=at.strip(), any_day=any_day, symbols=syms, bar=bar_size,
              duration=duration, python=spec, library=library, symbol=symbol,
              timeout=timeout)
    try:
        nxt = schedule_of(ctl).policy.timing(job.validate()).next_run(time.time())
        if nxt is None:
            raise JobError(f"--at {job.at!r} never falls on an XNYS trading day"
                           f"{'' if any_day else ' (--any-day runs it on any day)'}")
        store.add(paths_for(ctl), job)
    except JobExists as exc:
        fail("JOB_EXISTS", str(exc))
    except JobError as exc:
        fail(BAD_INPUT, str(exc))
    click.echo(f"scheduled {name}: {job.what} at {job.at}"
               f"{' (any day)' if any_day else ''}; next run {utc(nxt)} UTC")


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctl
def list_(ctl: Ctl, as_json: bool) -> None:
    """Every job: what it does, when, its next run, and its last run's time, result and
    duration."""
    try:
        rows = schedule_of(ctl).rows(time.time())
    except JobError as exc:
        fail(BAD_INPUT, str(exc))
    if as_json:
        echo_json(rows)
        return
    click.echo(table([{**r, "at": r["at"] + (" (any day)" if r["any_day"] else ""),
                       "next": utc(r["next_run"]), "last": utc(r["last_run"]),
                       "took": None if r["duration"] is None else f"{r['duration']:.1f}s",
                       "result": r["result_line"]} for r in rows],
                     ["name", "what", "at", "next", "last", "took", "result"],
                     ["NAME", "WHAT", "AT", "NEXT RUN (UTC)", "LAST RUN (UTC)", "DURATION",
                      "LAST RESULT"]))


@schedule.command()
@click.argument("name")
@pass_ctl
def remove(ctl: Ctl, name: str) -> None:
    """Unschedule NAME (what it wrote stays stored)."""
    try:
        store.remove(paths_for(ctl), name)
    except KeyError:
        fail("UNKNOWN_JOB", f"no scheduled job named {name!r}")
    except JobError as exc:
        fail(BAD_INPUT, str(exc))
    click.echo(f"removed {name}")


@schedule.command()
@click.argument("name")
@click.option("--wait", "wait", type=float, default=600.0, show_default=True,
              help="Seconds to wait for the run's result (0: ask and return).")
@pass_ctl
def run(ctl: Ctl, name: str, wait: float) -> None:
    """Have the scheduler run NAME now, and print how it went."""
    paths = paths_for(ctl)
    try:
        n = store.request_run(paths, name)
    except KeyError:
        fail("UNKNOWN_JOB", f"no scheduled job named {name!r}")
    except JobError as exc:
        fail(BAD_INPUT, str(exc))
    if wait <= 0:
        click.echo(f"asked the scheduler to run {name}")
        return
    click.echo(f"asked the scheduler to run {name}; waiting for it", err=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            rec = store.load_runs(paths).get(name)
        except JobError:
            rec = None  # being replaced: look again
        if rec is not None and rec.handled >= n and not rec.running:
            took = f" in {rec.duration:.1f}s" if rec.duration is not None else ""
            if not rec.ok:
                fail("JOB_FAILED", f"{name} failed{took}: {rec.result}")
            click.echo(f"{name}: ok{took}: {rec.result}")
            return
        time.sleep(RUN_POLL)
    fail("JOB_NOT_RUN", f"{name} was not run within {wait:g}s (it runs when the scheduler "
                        "gets to it)")
