"""Issue 12 acceptance, alerts: over the real processes, alerts reach a local webhook and a
local SMTP server with the right severity, and none is lost while the webhook is down."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alertkit import SmtpRecorder, WebhookRecorder, text
from systemkit import PROBE, System, free_port, wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

NAMES = ["steady", "other"]
#: how long the webhook stays down while alerts are raised
DOWN_SECONDS = 30.0
BY = f"cli:{getpass.getuser()}"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[WebhookRecorder, SmtpRecorder]]:
    webhook, smtp = WebhookRecorder().start(), SmtpRecorder(free_port()).start()
    yield webhook, smtp
    webhook.stop()
    smtp.stop()


@pytest.fixture(scope="module")
def system(system_factory: Any, servers: tuple[WebhookRecorder, SmtpRecorder]) -> System:
    webhook, smtp = servers
    s: System = system_factory(
        [{"name": n, "spec": PROBE, "params": {"mode": "idle"}} for n in NAMES],
        {"alerts": {"urls": [{"url": webhook.url, "min_level": "INFO"},
                             {"url": smtp.url(), "min_level": "WARNING"}],
                    "retry_seconds": 1.0, "retry_max_seconds": 4.0, "summary_time": ""}})
    wait_for(lambda: s.all_running(NAMES), 60, "the probes RUNNING")
    return s


def arrived(webhook: WebhookRecorder, title: str) -> dict[str, Any] | None:
    found = webhook.find(title)
    return found[0] if found else None


def test_a_halt_arrives_by_webhook_and_mail_as_a_warning_saying_by_whom(
        system: System, servers: tuple[WebhookRecorder, SmtpRecorder]) -> None:
    webhook, smtp = servers
    system.ctl("halt", "steady")
    title = f"strategy steady HALTED by {BY}"
    post = wait_for(lambda: arrived(webhook, title), 30, "the halt at the webhook")
    assert post["title"] == f"[ats WARNING] {title}" and post["type"] == "warning"
    mail = wait_for(lambda: smtp.find(title), 30, "the halt by mail")[0]
    assert mail["Subject"] == f"[ats WARNING] {title}" and BY in text(mail)


def test_a_crash_loop_arrives_as_critical_by_webhook_and_mail(
        system: System, servers: tuple[WebhookRecorder, SmtpRecorder]) -> None:
    webhook, smtp = servers
    system.ctl("add", PROBE, "--name", "crashy", "-p", "mode=crash")
    system.ctl("start", "crashy", check=False)  # it may crash before `start` returns
    title = "strategy crashy CRASH_LOOP"
    post = wait_for(lambda: arrived(webhook, title), 150, "the crash loop at the webhook")
    assert post["title"] == f"[ats CRITICAL] {title}" and post["type"] == "failure"
    assert wait_for(lambda: smtp.find(title), 30, "the crash loop by mail")
    assert system.status()["crashy"]["state"] == "CRASH_LOOP"


def test_no_alert_is_lost_while_the_webhook_is_down(
        system: System, servers: tuple[WebhookRecorder, SmtpRecorder]) -> None:
    webhook, smtp = servers
    webhook.stop()
    down_at = time.monotonic()
    system.ctl("resume", "steady")
    system.ctl("halt", "other")
    system.ctl("resume", "other")
    titles = [f"strategy steady resumed by {BY}", f"strategy other HALTED by {BY}",
              f"strategy other resumed by {BY}"]
    logged = wait_for(lambda: all(any(r["title"] == t for r in system.json("alerts", "-n",
                                                                          "50"))
                                  for t in titles), 30, "the three alerts raised and logged")
    assert logged
    outbox = system.home / "state" / "alerts-outbox.json"
    wait_for(lambda: len(json.loads(outbox.read_text())["pending"]) >= 3, 30,
             "the webhook's alerts waiting in the outbox")
    # mail is up: it gets the WARNING at once, and never the INFO resumes (its min_level)
    assert wait_for(lambda: smtp.find(titles[1]), 30, "the second halt by mail")
    time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
    assert not any(t in " ".join(webhook.titles()) for t in titles)
    webhook.start()
    wait_for(lambda: all(arrived(webhook, t) for t in titles), 30,
             "every alert raised while the webhook was down")
    got = [p["title"] for p in webhook.posts if any(t in p["title"] for t in titles)]
    assert got == [f"[ats INFO] {titles[0]}", f"[ats WARNING] {titles[1]}",
                   f"[ats INFO] {titles[2]}"]  # each once, in order
    assert not smtp.find(titles[0]) and not smtp.find(titles[2])
    wait_for(lambda: json.loads(outbox.read_text())["pending"] == [], 30, "an empty outbox")


def test_status_lists_the_alerts_process_and_ats_ctl_alerts_the_recent_ones(
        system: System, servers: tuple[WebhookRecorder, SmtpRecorder]) -> None:
    webhook, _ = servers
    row = system.status()["alerts"]
    assert row["kind"] == "process" and row["state"] == "RUNNING"
    out = system.ctl("alerts", "-n", "50").stdout
    assert "CRITICAL" in out and "strategy crashy CRASH_LOOP" in out
    test = system.ctl("alerts", "test", check=False)
    assert test.returncode == 0, test.stdout + test.stderr
    assert webhook.url in test.stdout and "ok" in test.stdout
    assert webhook.url not in (system.home / "log" / "alerts.jsonl").read_text()
