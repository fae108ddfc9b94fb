"""/api/schedule: the scheduled data jobs (`ats-ctl data schedule list`), and running one now
(`data schedule run NAME --wait 0`), which needs a session and is audited."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ats.scheduler import jobs as store
from ats.scheduler.jobs import JobError
from ats.scheduler.listing import Schedule
from ats.web import audit
from ats.web.api import JSON, Changer, remote_of
from ats.web.audit import AuditLog


def router(schedule: Schedule | None, log: AuditLog) -> APIRouter:
    api = APIRouter(prefix="/api/schedule", default_response_class=JSON)

    def jobs() -> Schedule:
        if schedule is None:
            raise HTTPException(503, {"code": "UNAVAILABLE", "message": "no scheduler"})
        return schedule

    @api.get("", summary="`ats-ctl data schedule list --json`: each job, its next run and its "
             "last run's time, duration and result")
    async def listing() -> Any:
        try:
            return await asyncio.to_thread(jobs().rows, time.time())
        except JobError as exc:
            raise HTTPException(500, {"code": "BAD_INPUT", "message": str(exc)}) from exc

    @api.post("/{name}/run", summary="`ats-ctl data schedule run NAME --wait 0`: the scheduler "
              "runs it within a second; its result shows in the listing")
    async def run(name: str, request: Request, s: Changer) -> Any:
        try:
            n = await asyncio.to_thread(store.request_run, jobs().paths, name)
        except (KeyError, JobError) as exc:
            status, code, message = (404, "UNKNOWN_JOB", f"no scheduled job named {name!r}") \
                if isinstance(exc, KeyError) else (500, "BAD_INPUT", str(exc))
            log.write(s.who, remote_of(request), "run_job", name, audit.FAILED,
                      f"{code}: {message}")
            raise HTTPException(status, {"code": code, "message": message}) from exc
        log.write(s.who, remote_of(request), "run_job", name, audit.OK, "")
        return {"result": {"name": name, "request": n}}

    return api
