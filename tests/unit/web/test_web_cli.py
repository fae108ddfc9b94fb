"""ats-ctl init | web url | web token | audit."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from ats.cli.main import cli
from ats.web import audit


def run(home: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_init_writes_a_0600_token_that_web_token_prints(tmp_path: Path) -> None:
    home = tmp_path / "h"
    out = run(home, "init")
    path = home / "state" / "web-token"
    assert str(path) in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run(home, "web", "token").strip() == path.read_text().strip()


def test_web_url_prints_the_address_to_open(tmp_path: Path) -> None:
    home = tmp_path / "h"
    run(home, "init")
    assert run(home, "web", "url").strip() == "http://127.0.0.1:8765/"


def test_audit_prints_the_actions_as_a_table_and_as_json(tmp_path: Path) -> None:
    home = tmp_path / "h"
    run(home, "init")
    log = audit.AuditLog(home / "log" / "web-audit.jsonl")
    log.write("session:abcd1234", "127.0.0.1", "stop", "example", audit.OK)
    log.write("anonymous", "127.0.0.1", "POST /api/halt", "", audit.REFUSED, "log in first")
    table = run(home, "audit")
    assert "WHO" in table and "session:abcd1234" in table and "log in first" in table
    rows = json.loads(run(home, "audit", "--json", "-n", "1"))
    assert [r["result"] for r in rows] == ["refused"]
