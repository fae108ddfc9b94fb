"""What a job does when it runs.

- A fetch job goes through the same paced, resumable fetch as `ats-ctl data fetch`: it plans
  the missing ranges at the venue's time, requests them within IB's historical pacing (the
  request times are shared with `data fetch` through ``state/data_pacing.json``) and stores each
  answer before the next request, so a failed run resumes where it stopped.
- A Python job calls a user's function, loaded as strategies are (a module path or a .py file,
  imported, never evaluated), in a worker thread; it returns a DataFrame, which is written to
  its library as a new version of its symbol.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import importlib.util
import inspect
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ats import config as config_mod
from ats.scheduler.engine import JobFailed, Outcome
from ats.scheduler.jobs import PYTHON, Job

log = logging.getLogger("ats.scheduler.runners")

CONNECT_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class JobContext:
    """What a Python job's function may take as its one argument."""

    name: str  #: the job's name
    now: pd.Timestamp  #: when the run started (UTC)
    arctic_uri: str  #: the system's ArcticDB, to read stored data
    library: str  #: the library the result goes to
    log: logging.Logger


class Runner:
    """Runs a job of either kind against one ATS_HOME's venue and ArcticDB."""

    def __init__(self, cfg: config_mod.Config, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg, self.clock = cfg, clock

    async def __call__(self, job: Job) -> Outcome:
        if job.kind == PYTHON:
            return await run_python(job, self.cfg.arctic_uri, self.clock)
        return await self.fetch(job)

    async def fetch(self, job: Job) -> Outcome:
        from ats.data.fetch import FetchError, HistoricalFetcher, plan
        from ats.data.naming import SymbolError, parse_symbol
        from ats.data.pacing import PACING_FILE, HistoricalPacer, load_sent_times, save_sent_times
        from ats.data.ranges import parse_duration, utc
        from ats.data.store import BarStore
        from ats.ib import adapter

        try:
            insts = [parse_symbol(s) for s in job.symbols]
            offset = parse_duration(job.duration)
        except (SymbolError, ValueError) as exc:
            raise JobFailed(str(exc)) from exc
        cfg, venue = self.cfg, self.cfg.venue
        store = BarStore(cfg.arctic_uri, str(cfg.section("data")["library"]))
        client_id = int(cfg.section("scheduler")["client_id"])
        host, port = str(venue["host"]), int(venue["port"])
        pacing = cfg.state_dir / PACING_FILE
        pacer = HistoricalPacer(clock=time.time)  # the file holds wall-clock request times
        pacer.preload(load_sent_times(pacing, time.time()))
        ib = adapter.IB()

        def give_up(attempt: int, exc: BaseException, delay: float) -> None:
            if attempt >= CONNECT_ATTEMPTS:
                raise JobFailed(f"cannot connect to the venue at {host}:{port} "
                                f"(clientId {client_id}): {exc or type(exc).__name__}")

        requests = rows = 0
        try:
            await adapter.connect(ib, host, port, client_id,
                                  timeout=float(venue["connect_timeout"]),
                                  account=str(venue["account"]), readonly=True,
                                  on_retry=give_up)
            now = utc(pd.Timestamp(await ib.reqCurrentTimeAsync()))  # the venue's clock
            fetcher = HistoricalFetcher(ib, store, pacer)
            for inst in insts:
                result = await fetcher.run(plan(store, inst, job.bar, now - offset, None, now))
                requests, rows = requests + result.requests, rows + result.rows
        except FetchError as exc:
            raise JobFailed(f"{exc}; {rows} new bars stored before it") from exc
        finally:
            ib.disconnect()
            save_sent_times(pacing, pacer.sent_times())
        return Outcome(f"{len(insts)} symbols, {rows} new bars in {requests} requests", rows)


async def run_python(job: Job, arctic_uri: str, clock: Callable[[], float]) -> Outcome:
    ctx = JobContext(job.name, pd.Timestamp(clock(), unit="s", tz="UTC"), arctic_uri,
                     job.library, logging.getLogger(f"ats.scheduler.job.{job.name}"))

    def call() -> Any:  # in a worker thread: the user's import and function both
        func = load_function(job.python)
        try:
            takes_ctx = bool(inspect.signature(func).parameters)
        except (TypeError, ValueError):  # no signature to read: call it bare
            takes_ctx = False
        return func(ctx) if takes_ctx else func()

    try:
        result = await asyncio.wait_for(asyncio.to_thread(call), job.timeout)
    except TimeoutError as exc:
        # A thread cannot be stopped: it runs on, but its result is not written.
        raise JobFailed(f"{job.python} took longer than {job.timeout:g}s") from exc
    if not isinstance(result, pd.DataFrame):
        raise JobFailed(f"{job.python} returned {type(result).__name__}, not a DataFrame")
    from ats.storage.arctic import library

    symbol = job.symbol or job.name
    lib = library(arctic_uri, job.library)
    version = await asyncio.to_thread(lib.write, symbol, result)
    return Outcome(f"{len(result)} rows written to {job.library}/{symbol} "
                   f"(version {getattr(version, 'version', '?')})", len(result))


def load_function(spec: str) -> Callable[..., Any]:
    """``module:function``, ``path/file.py:function`` or ``path/file.py`` (its ``job``).

    A file is imported afresh at each run, so an edit takes effect at the next one."""
    target, _, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
    try:
        if target.endswith(".py") or "/" in target:
            path = Path(target)
            if not path.is_file():
                raise JobFailed(f"no such file: {path}")
            mspec = importlib.util.spec_from_file_location(f"ats_user_job_{path.stem}", path)
            if mspec is None or mspec.loader is None:
                raise JobFailed(f"not a python module: {path}")
            module = importlib.util.module_from_spec(mspec)
            mspec.loader.exec_module(module)
            attr = attr or "job"
        else:
            if not attr:
                raise JobFailed(f"--python {spec!r}: name the function, module:function")
            module = importlib.import_module(target)
    except JobFailed:
        raise
    except SyntaxError as exc:
        raise JobFailed(f"syntax error in {exc.filename}:{exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        from ats.scheduler.engine import describe

        raise JobFailed(f"cannot import {target}: {describe(exc)}") from exc
    func = getattr(module, attr, None)
    if not callable(func):
        raise JobFailed(f"{target} has no function {attr!r}")
    return func  # type: ignore[no-any-return]


def check_spec(spec: str) -> str:
    """The spec as the scheduler will load it (a file's path made absolute), or ValueError.

    Nothing is imported: the user's module runs only in the scheduler."""
    target, sep, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if attr and not attr.isidentifier():
        raise ValueError(f"--python {spec!r}: {attr!r} is not a function name")
    if target.endswith(".py") or "/" in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise ValueError(f"--python {spec!r}: no such file {path}")
        return f"{path}{sep}{attr}"
    if not attr:
        raise ValueError(f"--python {spec!r}: name the function, module:function")
    try:
        found = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        found = None
    if found is None and target not in sys.modules:
        raise ValueError(f"--python {spec!r}: no module named {target!r}")
    return spec
