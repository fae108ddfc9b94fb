"""ats-ctl keys generate|list|allow|revoke, and a process's start with [bus] curve on: key files
0600 in a 0700 folder, only public keys in the allow-list, clear one-line refusals."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ats import buskeys, config, processes
from ats.cli.main import cli
from bus import security

CURVE_TOML = '[bus]\ntransport = "tcp"\nbase_port = 17000\ncurve = true\n'


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / config.CONFIG_FILE).write_text(CURVE_TOML)
    yield tmp_path
    buskeys.close()


def ctl(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ATS_HOME": str(home)})


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generate_makes_the_home_pairs_once_0600_in_a_0700_folder_and_allows_local(
        home: Path) -> None:
    first = ctl(home, "keys", "generate")
    assert first.exit_code == 0 and "made server, local" in first.output
    assert "already" in ctl(home, "keys", "generate").output
    keys = home / "state" / "keys"
    assert mode(keys) == 0o700
    for path in keys.rglob("*.key*"):
        assert mode(path) == 0o600, path
    rows = {r["name"]: r for r in json.loads(ctl(home, "keys", "list", "--json").output)}
    assert rows["local"]["allowed"] and rows["local"]["secret"]
    assert not rows["server"]["allowed"]


def test_a_peer_pair_is_allowed_by_name_or_file_and_revoked(home: Path, tmp_path: Path) -> None:
    ctl(home, "keys", "generate")
    assert ctl(home, "keys", "generate", "hostb").exit_code == 0
    again = ctl(home, "keys", "generate", "hostb")
    assert again.exit_code == 19 and "already exists" in again.stderr
    rows = {r["name"]: r for r in json.loads(ctl(home, "keys", "list", "--json").output)}
    assert not rows["hostb"]["allowed"]

    assert ctl(home, "keys", "allow", "hostb").output == "allowed hostb\n"
    assert "secret" not in (home / "state" / "keys" / "allowed" / "hostb.key").read_text()
    assert ctl(home, "keys", "revoke", "hostb").exit_code == 0
    # a key file from elsewhere, even a secret one: only its public key is copied
    security.generate(tmp_path / "elsewhere", "hostc")
    assert ctl(home, "keys", "allow",
               str(tmp_path / "elsewhere" / "hostc.key_secret")).output == "allowed hostc\n"
    allowed = home / "state" / "keys" / "allowed" / "hostc.key"
    assert "secret" not in allowed.read_text()
    assert security.load_public(allowed) == \
        security.load_public(tmp_path / "elsewhere" / "hostc.key")


@pytest.mark.parametrize("args, message", [
    (("revoke", "nobody"), "key 'nobody' is not allowed"),
    (("revoke", "local"), "'local' is this home's own key"),
    (("allow", "nobody"), "no key 'nobody'"),
    (("generate", "../up"), "bad key name '../up'"),
])
def test_bad_key_commands_fail_in_one_line(home: Path, args: tuple[str, ...],
                                           message: str) -> None:
    result = ctl(home, "keys", *args)
    assert result.exit_code == 19
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_a_process_with_curve_on_and_no_keys_refuses_to_start_in_one_line(
        home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # its logging setup would take over the root logger (and caplog's handler)
    monkeypatch.setattr(processes, "setup_logging", lambda level: None)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_:
        processes.start_process("ats-manager", None, ["--home", str(home)])
    assert exit_.value.code == 2
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "[bus] curve is on but no CURVE key pair file" in record.getMessage()
    assert "run `ats-ctl keys generate`" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_a_server_process_gets_the_server_pair_and_a_client_only_its_own(home: Path) -> None:
    cfg = config.load(home)
    buskeys.generate_home(cfg)
    client = buskeys.use(cfg, "strategy")
    assert client is not None and client.server is None and client.allowed is None
    server = buskeys.use(cfg, "broker")
    assert server is not None and server.server is not None and server.on_refused is not None
    assert server.own == client.own and server.server_public == server.server.public
    assert security.active() is server
