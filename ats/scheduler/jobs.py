"""Job definitions and their run records, each file with one writer.

``state/scheduler/jobs.json`` holds the definitions. ats-ctl writes it (under
``jobs.lock``: two ats-ctl at once do not lose each other's change); the scheduler reads it
again whenever it changes. ``state/scheduler/runs.json`` holds what the scheduler did with
each job (last run, result, duration, next run, retries); only the scheduler writes it.
`ats-ctl data schedule run NAME` asks for a run by raising the job's ``run_requests``; the
scheduler runs it and records the count it has handled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ats.atomicfile import atomic_write
from ats.scheduler.timing import check

FOLDER = "scheduler"
JOBS_FILE = "jobs.json"
RUNS_FILE = "runs.json"
LOCK_FILE = "jobs.lock"
FORMAT = 1

FETCH = "fetch"  #: the paced, resumable fetch of `ats-ctl data fetch`
PYTHON = "python"  #: a user's function that returns a DataFrame

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: libraries a Python job may not write: the ledger's and the registry's
PROTECTED_LIBRARIES = frozenset({"ledger", "registry"})


class JobError(ValueError):
    """A job that cannot be stored or read; the message is one line for the operator."""


class JobExists(JobError):
    """A job of that name is already scheduled."""


@dataclass(frozen=True)
class Job:
    name: str
    at: str  #: "after_close" or a CRON expression
    any_day: bool = False  #: CRON: run on weekends and holidays too
    symbols: tuple[str, ...] = ()  #: fetch: SYMBOL[:TYPE[:EXTRA]] each
    bar: str = "1d"  #: fetch: bar size
    duration: str = "1y"  #: fetch: how far back the stored history must reach
    python: str = ""  #: python: "module:function" or "path/to/file.py[:function]"
    library: str = ""  #: python: the ArcticDB library written
    symbol: str = ""  #: python: the symbol written (default: the job's name)
    timeout: float = 600.0  #: python: seconds a run may take
    run_requests: int = 0  #: runs asked for by `data schedule run`
    id: str = ""  #: set when added: a job removed and added again is another job

    @property
    def kind(self) -> str:
        return PYTHON if self.python else FETCH

    @property
    def what(self) -> str:
        """One line: what the job does."""
        if self.kind == PYTHON:
            return f"python {self.python} -> {self.library}/{self.symbol or self.name}"
        return f"fetch {','.join(self.symbols)} {self.bar} ({self.duration})"

    def validate(self) -> Job:
        if not NAME_RE.match(self.name):
            raise JobError(f"bad job name {self.name!r}: letters, digits, _ . - (64 at most)")
        try:
            check(self.at)
        except ValueError as exc:
            raise JobError(str(exc)) from exc
        if bool(self.symbols) == bool(self.python):
            raise JobError("a job either fetches SYMBOLS (--fetch) or runs a function "
                           "(--python), one of the two")
        if self.python:
            if not self.library:
                raise JobError("a --python job needs --library, the ArcticDB library it writes")
            if self.library in PROTECTED_LIBRARIES:
                raise JobError(f"library {self.library!r} belongs to the system "
                               f"({', '.join(sorted(PROTECTED_LIBRARIES))} are refused)")
            if not NAME_RE.match(self.library) or (self.symbol and not NAME_RE.match(self.symbol)):
                raise JobError("bad --library or --symbol: letters, digits, _ . - only")
            if self.timeout <= 0:
                raise JobError(f"--timeout must be > 0, got {self.timeout:g}")
        return self

    def to_mapping(self) -> dict[str, Any]:
        out = asdict(self)
        out["symbols"] = list(self.symbols)
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Job:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["symbols"] = tuple(str(s) for s in known.get("symbols") or ())
        return cls(**known)


@dataclass
class RunRecord:
    """What the scheduler knows of one job's runs (times are epoch seconds)."""

    job_id: str = ""  #: the Job.id these runs are of
    next_run: float | None = None  #: the next regular run
    retry_at: float | None = None  #: the next try of a failed run
    attempts: int = 0  #: failed tries in a row of the current run
    last_run: float | None = None  #: when the last try started
    duration: float | None = None  #: how long it took, in seconds
    ok: bool | None = None  #: whether it succeeded (None: never ran)
    result: str = ""  #: one line: what it did, or why it failed
    handled: int = 0  #: the job's run_requests answered so far
    running: bool = False
    runs: int = 0  #: tries since the job was added
    failures: int = 0  #: failed tries since the job was added

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RunRecord:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Paths:
    folder: Path
    jobs: Path = field(init=False)
    runs: Path = field(init=False)
    lock: Path = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = self.folder / JOBS_FILE
        self.runs = self.folder / RUNS_FILE
        self.lock = self.folder / LOCK_FILE

    @classmethod
    def of(cls, state_dir: Path) -> Paths:
        return cls(Path(state_dir) / FOLDER)


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise JobError(f"{path}: cannot read the {what}: {exc}") from exc
    if not isinstance(data, dict):
        raise JobError(f"{path}: cannot read the {what}: not a JSON object")
    return data


def load_jobs(paths: Paths) -> dict[str, Job]:
    data = _read(paths.jobs, "scheduled jobs")
    try:
        return {str(n): Job.from_mapping(j) for n, j in dict(data.get("jobs") or {}).items()}
    except (TypeError, ValueError) as exc:
        raise JobError(f"{paths.jobs}: cannot read the scheduled jobs: {exc}") from exc


def save_jobs(paths: Paths, jobs: Mapping[str, Job]) -> None:
    data = {"format": FORMAT, "jobs": {n: j.to_mapping() for n, j in sorted(jobs.items())}}
    atomic_write(paths.jobs, json.dumps(data, indent=1).encode())


@contextlib.contextmanager
def editing(paths: Paths) -> Iterator[dict[str, Job]]:
    """The jobs, for one change by ats-ctl: saved when the block ends without an error."""
    paths.folder.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jobs = load_jobs(paths)
        yield jobs
        save_jobs(paths, jobs)


def add(paths: Paths, job: Job) -> Job:
    job = replace(job.validate(), id=job.id or uuid.uuid4().hex[:12])
    with editing(paths) as jobs:
        if job.name in jobs:
            raise JobExists(f"a job named {job.name!r} is already scheduled")
        jobs[job.name] = job
    return job


def remove(paths: Paths, name: str) -> Job:
    with editing(paths) as jobs:
        if name not in jobs:
            raise KeyError(name)
        return jobs.pop(name)


def request_run(paths: Paths, name: str) -> int:
    """Ask the scheduler for one more run of `name`; the request's number."""
    with editing(paths) as jobs:
        if name not in jobs:
            raise KeyError(name)
        job = jobs[name] = replace(jobs[name], run_requests=jobs[name].run_requests + 1)
    return job.run_requests


def load_runs(paths: Paths) -> dict[str, RunRecord]:
    data = _read(paths.runs, "job runs")
    try:
        return {str(n): RunRecord.from_mapping(r) for n, r in dict(data.get("runs") or {}).items()}
    except (TypeError, ValueError) as exc:
        raise JobError(f"{paths.runs}: cannot read the job runs: {exc}") from exc


def save_runs(paths: Paths, runs: Mapping[str, RunRecord]) -> None:
    data = {"format": FORMAT, "runs": {n: r.to_mapping() for n, r in sorted(runs.items())}}
    atomic_write(paths.runs, json.dumps(data, indent=1).encode())
