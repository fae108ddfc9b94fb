"""The Positions page's Assign (`ats-ctl assign`) and the Schedule page (`ats-ctl data schedule
list`, `run`): what they ask, and the audit of each change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webkit import FakeBackend, client, console, login

from ats.config import DEFAULTS
from ats.errors import Code
from ats.scheduler import jobs as store
from ats.scheduler.jobs import Job, RunRecord
from ats.scheduler.listing import Schedule
from ats.web import audit
from bus.errors import RequestError


@pytest.fixture
def schedule(tmp_path: Path) -> Schedule:
    s = Schedule.of(tmp_path / "state", DEFAULTS["scheduler"])
    store.add(s.paths, Job(name="nightly", at="after_close", symbols=("SPY", "QQQ")))
    return s


@pytest.fixture
def web_tc(tmp_path: Path, backend: FakeBackend, schedule: Schedule) -> TestClient:
    web = console(tmp_path, backend)
    web.schedule = schedule
    return client(web)


def audited(tmp_path: Path) -> list[dict[str, Any]]:
    return audit.read(tmp_path / "audit.jsonl")


def test_assign_asks_the_broker_what_ats_ctl_assign_asks_and_is_audited(
        tmp_path: Path, web_tc: TestClient, backend: FakeBackend) -> None:
    backend.replies[("broker", "assign")] = {"transfer": [{"side": "OUT"}]}
    headers = login(web_tc)
    r = web_tc.post("/api/assign", headers=headers, json={
        "symbol": "VXM", "con_id": 502, "quantity": -1, "to": "short_vix",
        "from": "unattributed", "reason": "manual hedge"})
    assert r.status_code == 200, r.text
    [(service, method, params)] = backend.calls
    assert (service, method) == ("broker", "assign")
    assert len(params.pop("transfer_id")) == 32
    assert params.pop("by").startswith("web:session:")  # who, in the broker's journal
    assert params == {"symbol": "VXM", "con_id": 502, "quantity": -1.0, "source": "unattributed",
                      "dest": "short_vix", "price": None, "reason": "manual hedge",
                      "force": False}
    rec = audited(tmp_path)[-1]
    assert (rec["action"], rec["target"], rec["result"]) == ("assign", "short_vix", audit.OK)


def test_a_refused_assign_answers_the_brokers_reason_and_is_audited_failed(
        tmp_path: Path, web_tc: TestClient, backend: FakeBackend) -> None:
    backend.replies[("broker", "assign")] = RequestError(
        Code.BAD_PARAMS, "unattributed holds 100 SPY: cannot move 101")
    r = web_tc.post("/api/assign", headers=login(web_tc),
                    json={"symbol": "SPY", "quantity": 101, "to": "example"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "unattributed holds 100 SPY: cannot move 101"
    rec = audited(tmp_path)[-1]
    assert rec["result"] == audit.FAILED and "cannot move 101" in rec["detail"]


def test_the_schedule_lists_each_job_with_its_next_run_and_last_result(
        web_tc: TestClient, schedule: Schedule) -> None:
    [row] = web_tc.get("/api/schedule").json()
    assert (row["name"], row["what"], row["result_line"]) == \
        ("nightly", "fetch SPY,QQQ 1d (1y)", "never run")
    assert row["next_run"] > 0
    store.save_runs(schedule.paths, {"nightly": RunRecord(
        job_id=store.load_jobs(schedule.paths)["nightly"].id, ok=False, runs=2, failures=2,
        result="ConnectionRefusedError", retry_at=1.8e9)})
    [row] = web_tc.get("/api/schedule").json()
    assert row["result_line"].startswith("FAILED (2 of 2 runs, retry at 2027-01-15")


def test_run_now_needs_a_session_asks_the_scheduler_and_is_audited(
        tmp_path: Path, web_tc: TestClient, schedule: Schedule) -> None:
    assert web_tc.post("/api/schedule/nightly/run").status_code == 401
    headers = login(web_tc)
    r = web_tc.post("/api/schedule/nightly/run", headers=headers)
    assert r.json() == {"result": {"name": "nightly", "request": 1}}
    assert store.load_jobs(schedule.paths)["nightly"].run_requests == 1
    missing = web_tc.post("/api/schedule/nope/run", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "UNKNOWN_JOB"
    assert [(r["action"], r["target"], r["result"]) for r in audited(tmp_path)[-2:]] == \
        [("run_job", "nightly", audit.OK), ("run_job", "nope", audit.FAILED)]


def test_without_a_scheduler_the_schedule_is_unavailable(tmp_path: Path,
                                                         backend: FakeBackend) -> None:
    r = client(console(tmp_path, backend)).get("/api/schedule")
    assert r.status_code == 503 and r.json()["error"]["code"] == "UNAVAILABLE"
