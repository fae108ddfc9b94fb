"""The ats-scheduler process's own parts, without its loop: it takes the jobs file again when
ats-ctl changes it, keeps the run records in their file, and puts a job's alert on the bus the
way the alerts service reads it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ats.alerts.rules import Rules, RulesConfig
from ats.config import Config, init_home
from ats.scheduler import jobs as store
from ats.scheduler.jobs import Job, Paths, load_runs
from ats.scheduler.main import SchedulerService
from bus import topics

NY = ZoneInfo("America/New_York")
#: Saturday 2026-11-21, noon New York: the next after-close run is Monday's
SATURDAY = dt.datetime(2026, 11, 21, 12, 0, tzinfo=NY).timestamp()
MONDAY_RUN = dt.datetime(2026, 11, 23, 16, 30, tzinfo=NY).timestamp()


class Published:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, topic: str, type_: str, body: dict[str, Any]) -> int:
        self.messages.append((topic, type_, body))
        return len(self.messages)


@pytest.fixture
def home(tmp_path: Path) -> Config:
    return init_home(tmp_path / "home")


def test_a_job_added_by_ats_ctl_is_taken_and_its_next_run_saved(home: Config) -> None:
    service = SchedulerService(home, clock=lambda: SATURDAY)
    paths = Paths.of(home.state_dir)
    service.reload()
    assert service.engine.jobs == {}
    store.add(paths, Job("daily", "after_close", symbols=("SPY",)))
    service.reload()
    assert list(service.engine.jobs) == ["daily"]
    assert load_runs(paths)["daily"].next_run == MONDAY_RUN
    store.remove(paths, "daily")
    service.reload()
    assert service.engine.jobs == {} and load_runs(paths) == {}


def test_a_job_alert_is_published_for_the_alerts_service(home: Config) -> None:
    service = SchedulerService(home, clock=lambda: SATURDAY)
    published = Published()
    service.publisher = published  # type: ignore[assignment]
    service.alert("ERROR", "daily", "data job daily failed 4 times, gave up: boom")
    [(topic, type_, body)] = published.messages
    assert (topic, type_) == (topics.alert("scheduler"), "alert")
    _, source = topics.parse(topic)
    rules = Rules(RulesConfig.from_section(home.section("alerts"), 3.0))
    [alert] = rules.forwarded(source, body, SATURDAY)
    assert alert.level.name == "CRITICAL"
    assert alert.title == "scheduler: data job daily failed 4 times, gave up: boom"


def test_an_unreadable_jobs_file_keeps_the_jobs_read_before(home: Config) -> None:
    service = SchedulerService(home, clock=lambda: SATURDAY)
    paths = Paths.of(home.state_dir)
    store.add(paths, Job("daily", "after_close", symbols=("SPY",)))
    service.reload()
    paths.jobs.write_text("{not json")
    service.reload()
    assert list(service.engine.jobs) == ["daily"]
