"""ats-scheduler: runs the scheduled data jobs, under supervisord like the others.

It reads ``state/scheduler/jobs.json`` again whenever ats-ctl changes it, runs each job when it
is due (see ``engine``), keeps ``state/scheduler/runs.json``, publishes a failed job's alert on
alert.scheduler for ats-alerts to deliver, and beats on hb.scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping

import zmq

from ats import config as config_mod
from ats.processes import BusLogHandler, install_stop_handlers, service_main
from ats.scheduler.engine import Engine, Policy
from ats.scheduler.jobs import JobError, Paths, RunRecord, load_jobs, load_runs, save_runs
from ats.scheduler.runners import Runner
from ats.sim.calendar import calendar
from bus import topics
from bus.heartbeat import Heartbeater
from bus.publisher import Publisher

log = logging.getLogger("ats.scheduler")
PROCESS = "scheduler"


class SchedulerService:
    def __init__(self, cfg: config_mod.Config, *, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.paths = Paths.of(cfg.state_dir)
        self.paths.folder.mkdir(parents=True, exist_ok=True)
        try:
            runs = load_runs(self.paths)
        except JobError as exc:
            log.error("%s; starting without the earlier run records", exc)
            runs = {}
        self.publisher: Publisher | None = None
        self.engine = Engine(Runner(cfg, clock=clock), Policy.of(cfg.section("scheduler")),
                             clock=clock, alert=self.alert, saved=self.save, runs=runs)
        self._seen: tuple[int, int] | None = None
        calendar("XNYS")  # built now (a second or two), not on the loop when a job comes

    def reload(self) -> None:
        """Take the jobs file again when it changed since the last look."""
        try:
            st = self.paths.jobs.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp == self._seen:
            return
        self._seen = stamp
        try:
            jobs = load_jobs(self.paths)
        except JobError as exc:
            log.error("%s; keeping the jobs read before", exc)
            return
        added = set(jobs) - set(self.engine.jobs)
        self.engine.set_jobs(jobs)
        for name in sorted(added):
            log.info("job %s: %s at %s; next run %s", name, jobs[name].what, jobs[name].at,
                     _when(self.engine.runs[name].next_run))

    def save(self, runs: Mapping[str, RunRecord]) -> None:
        try:
            save_runs(self.paths, runs)
        except OSError as exc:
            log.error("cannot save the job runs: %s", exc)

    def alert(self, level: str, name: str, message: str) -> None:
        log.log(logging.INFO if level == "INFO" else logging.WARNING, "%s", message)
        if self.publisher is not None:
            self.publisher.publish(topics.alert(PROCESS), "alert", {
                "level": level, "message": message, "key": f"job:{name}:{level}", "job": name})

    async def run(self) -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        sync_ctx = zmq.Context()
        self.publisher = Publisher(sync_ctx, self.cfg.endpoints.publish, PROCESS)
        # a Python job logs from its worker thread: a ZeroMQ socket is for one thread only
        to_bus = BusLogHandler(self.publisher, PROCESS)
        main = threading.get_ident()
        to_bus.addFilter(lambda record: record.thread == main)
        logging.getLogger().addHandler(to_bus)
        beat = Heartbeater(self.publisher, PROCESS, lambda: {
            "jobs": len(self.engine.jobs),
            "running": [n for n, r in self.engine.runs.items() if r.running]})

        async def wait(seconds: float) -> bool:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            return stop.is_set()

        tasks = [asyncio.create_task(self.engine.run_forever(wait, self.reload), name="jobs"),
                 asyncio.create_task(beat.run(), name="heartbeat")]
        log.info("scheduler started (%s)", self.paths.jobs)
        await stop.wait()
        for t in tasks:  # a job still running is cut short: a fetch resumes at its next run
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        logging.getLogger().removeHandler(to_bus)
        self.publisher.close()
        log.info("scheduler stopped")


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def main(argv: list[str] | None = None) -> None:
    service_main("ats-scheduler", __doc__, SchedulerService, argv)
