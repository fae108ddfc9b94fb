"""The alert log (log/alerts.jsonl) and the durable outbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ats.alerts import store
from ats.alerts.model import Alert, Level
from ats.alerts.store import AlertLog, Outbox, Pending


def alert(title: str) -> Alert:
    return Alert.make(Level.WARNING, "k", title, "details", source="s", ts=1.0)


def test_the_log_keeps_every_alert_and_gives_the_last_n_oldest_first(tmp_path: Path) -> None:
    log = AlertLog(tmp_path / "alerts.jsonl")
    for i in range(5):
        log.append(alert(f"t{i}"), fate="sent")
    recent = log.recent(3)
    assert [r["title"] for r in recent] == ["t2", "t3", "t4"]
    assert recent[0]["level"] == "WARNING" and recent[0]["fate"] == "sent"


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    log = AlertLog(tmp_path / "alerts.jsonl")
    log.append(alert("whole"))
    with log.path.open("a") as f:
        f.write('{"title": "torn')
    assert [r["title"] for r in log.recent(10)] == ["whole"]


def test_the_log_is_rotated_and_still_read_across_both_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "MAX_LOG_BYTES", 200)
    log = AlertLog(tmp_path / "alerts.jsonl")
    for i in range(6):
        log.append(alert(f"t{i}"))
    assert (tmp_path / "alerts.jsonl.1").exists()
    assert [r["title"] for r in log.recent(3)] == ["t3", "t4", "t5"]


def test_the_outbox_survives_a_restart_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    box = Outbox(path)
    box.add([Pending("d1", alert("a")), Pending("d2", alert("b")), Pending("d1", alert("c"))])
    again = Outbox(path)
    assert again.load(["d1", "d2"]) == 3
    head = again.head("d1")
    assert head is not None and head.alert.title == "a"
    again.remove(head)
    third = Outbox(path)
    third.load(["d1", "d2"])
    assert [p.alert.title for p in third.items] == ["b", "c"]


def test_the_outbox_drops_destinations_no_longer_configured(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.json")
    box.add([Pending("gone", alert("a")), Pending("kept", alert("b"))])
    again = Outbox(tmp_path / "outbox.json")
    assert again.load(["kept"]) == 1


def test_a_corrupt_outbox_is_set_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    path.write_text("{not json")
    assert Outbox(path).load(["d"]) == 0
    assert path.with_suffix(".corrupt").read_text() == "{not json"


def test_neither_file_holds_a_url(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.json")
    box.add([Pending("abc123", alert("a"))])
    assert "://" not in (tmp_path / "outbox.json").read_text()
    assert json.loads((tmp_path / "outbox.json").read_text())["pending"][0]["dest_id"] == \
        "abc123"
