"""The alerts process's core, without the bus: events in, alerts logged and delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alertkit import WebhookRecorder

from ats import config
from ats.alerts.main import AlertsService

SECRET_URL_PART = "user:s3cret@"


@pytest.fixture
def webhook() -> Iterator[WebhookRecorder]:
    w = WebhookRecorder().start()
    yield w
    w.stop()


def service(tmp_path: Path, webhook: WebhookRecorder, clock: list[float],
            **alerts: object) -> AlertsService:
    url = webhook.url.replace("json://", f"json://{SECRET_URL_PART}")
    cfg = config.init_home(tmp_path / "h", {"alerts": {
        "urls": [{"url": url, "min_level": "WARNING"}], "repeat_seconds": 60.0,
        "summary_time": "", **alerts}})
    return AlertsService(cfg, clock=lambda: clock[0])


def test_a_halt_is_logged_and_delivered_but_an_info_stays_below_min_level(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    clock = [1000.0]
    svc = service(tmp_path, webhook, clock)
    svc.on_event("risk.s.", "trading_state", {"state": "HALTED", "by": "cli:alice",
                                              "reason": "operator halt"})
    svc.on_event("risk.s.", "trading_state", {"state": "ACTIVE", "by": "cli:alice"})
    asyncio.run(svc.courier.deliver_due())
    assert webhook.titles() == ["[ats WARNING] strategy s HALTED by cli:alice"]
    logged = svc.log.recent(10)
    assert [(r["level"], r["fate"]) for r in logged] == [("WARNING", "sent"), ("INFO", "sent")]


def test_repeats_are_logged_as_folded_and_sent_once_with_their_count(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    clock = [1000.0]
    svc = service(tmp_path, webhook, clock)
    for _ in range(3):
        svc.on_event("alert.broker.", "alert", {"level": "CRITICAL", "message": "disk full"})
    clock[0] += 61
    svc.tick()
    asyncio.run(svc.courier.deliver_due())
    assert webhook.titles() == ["[ats CRITICAL] broker: disk full",
                                "[ats CRITICAL] broker: disk full (+2 repeats folded)"]
    assert [r["fate"] for r in svc.log.recent(10)] == ["sent", "folded", "folded", "sent"]


def test_strategy_statuses_from_the_managers_replica_raise_alerts(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    clock = [1000.0]
    svc = service(tmp_path, webhook, clock)
    changed = svc.on_change("strategies")
    changed("snapshot", None, {"a": {"state": "RUNNING"}, "b": {"state": "RUNNING"}})
    changed("set", "b", {"state": "CRASH_LOOP"})
    asyncio.run(svc.courier.deliver_due())
    assert webhook.titles() == ["[ats CRITICAL] strategy b CRASH_LOOP"]


def test_the_url_is_never_written_to_the_log_or_the_outbox(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    clock = [1000.0]
    webhook.stop()  # delivery down: the alert waits in the outbox
    svc = service(tmp_path, webhook, clock)
    svc.on_event("reconcile.", "break", {"con_id": 7, "ledger": 1, "account": 2})
    asyncio.run(svc.courier.deliver_due())
    assert len(svc.courier.outbox.items) == 1
    home = tmp_path / "h"
    for path in (home / "log" / "alerts.jsonl", home / "state" / "alerts-outbox.json"):
        assert "s3cret" not in path.read_text() and "://" not in path.read_text()


def test_the_daily_summary_is_sent_once_and_remembered_across_restarts(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    clock = [1_796_246_400.0]  # 2026-12-02 16:20 New York, a Wednesday
    svc = service(tmp_path, webhook, clock, summary_time="16:15")
    svc.courier.dests = {}  # INFO: below the webhook's level anyway
    svc.tick()  # just started: the P&L replica fills first
    assert svc.log.recent(10) == []
    clock[0] += 30
    svc.tick()
    svc.tick()
    again = service(tmp_path, webhook, clock, summary_time="16:15")
    clock[0] += 30
    again.tick()
    assert [r["title"] for r in again.log.recent(10)] == ["daily summary 2026-12-02"]


def test_a_restart_keeps_the_drawdown_peak_so_a_loss_before_it_is_still_alerted(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    clock = [1000.0]
    svc = service(tmp_path, webhook, clock, max_drawdown=0.1)
    net_liq = svc.on_change("account")
    net_liq("set", "NetLiquidation", {"tag": "NetLiquidation", "value": "1000000"})
    svc.tick()
    restarted = service(tmp_path, webhook, clock, max_drawdown=0.1)
    restarted.on_change("account")("set", "NetLiquidation",
                                   {"tag": "NetLiquidation", "value": "880000"})
    asyncio.run(restarted.courier.deliver_due())
    assert webhook.titles() == ["[ats WARNING] the account drawdown 12.0% past 10.0%"]


def test_the_daily_summary_names_where_the_full_report_is(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    svc = service(tmp_path, webhook, [1000.0])
    port = svc.cfg.section("web")["port"]
    [summary] = svc.rules.summary("2026-12-02", 1000.0)
    assert summary.message.splitlines()[-1] == (
        f"full report: http://127.0.0.1:{port}/performance or `ats-ctl report --out DIR`")
