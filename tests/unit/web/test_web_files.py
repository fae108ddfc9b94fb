"""The login token's file and the audit log's file."""

from __future__ import annotations

import stat
from pathlib import Path

from ats.web import audit, logintoken


def test_the_token_is_random_kept_0600_and_read_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "state" / "web-token"
    token = logintoken.ensure(path)
    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert logintoken.ensure(path) == token
    assert logintoken.ensure(tmp_path / "other") != token


def test_a_widened_token_file_is_put_back_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "web-token"
    logintoken.ensure(path)
    path.chmod(0o644)
    logintoken.read(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_audit_records_are_appended_and_read_back_skipping_a_torn_line(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "log" / "audit.jsonl")
    log.write("session:abc", "127.0.0.1", "stop", "example", audit.OK, params={"name": "x"})
    with log.path.open("a") as f:
        f.write('{"torn": ')
    log.write("anonymous", "127.0.0.1", "POST /api/halt", "", audit.REFUSED, "log in first")
    recs = audit.read(log.path)
    assert [(r["who"], r["action"], r["result"]) for r in recs] == [
        ("session:abc", "stop", "ok"), ("anonymous", "POST /api/halt", "refused")]
    assert audit.read(log.path, limit=1) == recs[-1:]
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
