"""ats-ctl alerts | alerts test, and [alerts] in ats.toml (URLs masked, bad values refused)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from alertkit import WebhookRecorder
from click.testing import CliRunner, Result

from ats import config
from ats.alerts.model import Alert, Level
from ats.alerts.store import AlertLog
from ats.cli.main import cli


@pytest.fixture
def webhook() -> Iterator[WebhookRecorder]:
    w = WebhookRecorder().start()
    yield w
    w.stop()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"json://user:s3cret@127.0.0.1:{port}/hook"


def home(tmp_path: Path, alerts: dict[str, object]) -> Path:
    h = tmp_path / "h"
    config.init_home(h, {"alerts": alerts})
    return h


def ctl(h: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(h), *args])


def test_alerts_lists_the_recent_ones_oldest_first(tmp_path: Path) -> None:
    h = home(tmp_path, {})
    log = AlertLog(h / "log" / "alerts.jsonl")
    for i, level in enumerate((Level.INFO, Level.WARNING, Level.CRITICAL)):
        log.append(Alert.make(level, f"k{i}", f"title {i}", source="s", ts=1000.0 + i),
                   fate="sent")
    out = ctl(h, "alerts", "-n", "2")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["WHEN", "LEVEL", "SOURCE", "TITLE", "FOLDED", "FATE"]
    assert "WARNING" in lines[2] and "title 1" in lines[2] and "CRITICAL" in lines[3]
    rows = json.loads(ctl(h, "alerts", "--json").output)
    assert [r["title"] for r in rows] == ["title 0", "title 1", "title 2"]


def test_alerts_test_reports_each_url_masked_and_exits_24_when_one_failed(
        tmp_path: Path, webhook: WebhookRecorder) -> None:
    h = home(tmp_path, {"urls": [{"url": webhook.url, "min_level": "CRITICAL"}, dead_url()]})
    out = ctl(h, "alerts", "test")
    assert out.exit_code == 24, out.output
    ok, failed = out.output.splitlines()[2:4]
    assert ok.split()[:3] == [webhook.url, "CRITICAL", "ok"]
    assert "user:****@" in failed and "failed" in failed and "onnection" in failed
    assert "s3cret" not in out.output
    assert webhook.titles() == ["[ats TEST] test alert"]


def test_alerts_test_exits_0_when_every_url_got_it(tmp_path: Path,
                                                   webhook: WebhookRecorder) -> None:
    h = home(tmp_path, {"urls": [webhook.url]})
    rows = json.loads(ctl(h, "alerts", "test", "--json").output)
    assert [(r["url"], r["result"]) for r in rows] == [(webhook.url, "ok")]


def test_alerts_test_without_urls_says_where_to_set_them(tmp_path: Path) -> None:
    out = ctl(home(tmp_path, {}), "alerts", "test")
    assert out.exit_code == 19 and "[alerts] urls" in out.output


def test_config_masks_the_credentials_in_alert_urls(tmp_path: Path) -> None:
    h = home(tmp_path, {"urls": [{"url": "mailto://me:hunter2@mail.example.com?to=o@x.example",
                                  "min_level": "INFO"}]})
    for args in (("config",), ("config", "--json")):
        out = ctl(h, *args).output
        assert "hunter2" not in out and "me:****@mail.example.com" in out


@pytest.mark.parametrize("alerts, message", [
    ({"urls": [{"url": "json://x/h", "min_level": "DEBUG"}]},
     "[alerts] urls[0].min_level must be 'INFO', 'WARNING' or 'CRITICAL', got 'DEBUG'"),
    ({"urls": [{"min_level": "INFO"}]}, "[alerts] urls[0] needs 'url'"),
    ({"summary_time": "4pm"}, "[alerts] summary_time must be HH:MM (or empty), got '4pm'"),
    ({"max_drawdown_by_strategy": {"ltmt": 1.5}},
     "[alerts.max_drawdown_by_strategy] ltmt must be a number 0..1, got 1.5"),
])
def test_a_bad_alerts_value_is_refused_naming_the_key(tmp_path: Path, alerts: dict[str, object],
                                                      message: str) -> None:
    h = tmp_path / "h"
    h.mkdir()
    (h / "ats.toml").write_text(tomli_w.dumps({"alerts": alerts}))
    with pytest.raises(config.ConfigError) as exc:
        config.load(h)
    assert message in str(exc.value)
