"""`ats-ctl init --join`: a joined host's home on the main host's bus with CURVE, a key pair of
its own (0600), the hub's public key, its own public key exported for the main host to allow,
and a supervisord that runs only the agent; bad input is refused in one line."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ats import buskeys, config
from ats.cli import lifecycle
from ats.cli.main import cli
from bus import security


@pytest.fixture
def main_home(tmp_path: Path) -> Iterator[Path]:
    """A main host's home with its keys made (`ats-ctl keys generate`)."""
    home = tmp_path / "a"
    home.mkdir()
    (home / config.CONFIG_FILE).write_text(
        '[bus]\ntransport = "tcp"\nhost = "10.1.2.3"\nallow_remote = true\n'
        'base_port = 17100\ncurve = true\n')
    assert ctl(home, "keys", "generate").exit_code == 0
    yield home
    buskeys.close()


def ctl(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ATS_HOME": str(home)})


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def join(home: Path, main_home: Path, *extra: str) -> Result:
    return ctl(home, "init", "--join", "tcp://10.1.2.3:17100", "--hub-key",
               str(main_home / "state" / "keys" / "server.key"), "--host-name", "b", *extra)


def test_join_makes_a_curve_home_on_the_main_hosts_bus_that_runs_only_the_agent(
        tmp_path: Path, main_home: Path) -> None:
    home = tmp_path / "b"
    result = join(home, main_home)
    assert result.exit_code == 0, result.output
    cfg = config.load(home)
    bus = cfg.section("bus")
    assert (bus["transport"], bus["host"], bus["base_port"], bus["curve"]) == \
        ("tcp", "10.1.2.3", 17100, True)
    assert cfg.endpoints.agents == "tcp://10.1.2.3:17104"
    assert cfg.endpoints == config.load(main_home).endpoints  # the very same bus
    assert cfg.section("hosts") == {"name": "b", "role": "agent", "lost_seconds": 10.0}
    assert (cfg.venue["host"], cfg.venue["port"]) == ("10.1.2.3", 14002)
    assert cfg.seed_strategies() == []
    assert lifecycle.supervisord_conf(cfg).name == "agent-supervisord.conf"
    conf = lifecycle.supervisord_conf(cfg).read_text()
    assert "[program:agent]" in conf and "[program:broker]" not in conf


def test_join_gives_the_host_its_own_pair_0600_and_the_hubs_public_key(
        tmp_path: Path, main_home: Path) -> None:
    home = tmp_path / "b"
    assert join(home, main_home).exit_code == 0
    keys = home / "state" / "keys"
    main_keys = main_home / "state" / "keys"
    assert mode(keys) == 0o700
    assert mode(keys / "local.key_secret") == 0o600 and mode(keys / "local.key") == 0o600
    assert security.load_public(keys / "server.key") == \
        security.load_public(main_keys / "server.key")
    assert "secret" not in (keys / "server.key").read_text()
    own = security.load_pair(keys / "local.key_secret")
    assert own.public != security.load_public(main_keys / "local.key")  # a pair of its own
    curve = buskeys.curve_of(config.load(home))  # what its processes connect with
    assert curve.own == own and curve.server_public == security.load_public(keys / "server.key")


def test_join_exports_its_public_key_and_says_how_to_allow_it_on_the_main_host(
        tmp_path: Path, main_home: Path) -> None:
    home = tmp_path / "b"
    result = join(home, main_home)
    exported = home / "b.key"
    assert mode(exported) == 0o600 and "secret" not in exported.read_text()
    assert f"copy {exported}" in result.output and "`ats-ctl keys allow b.key`" in result.output
    allowed = ctl(main_home, "keys", "allow", str(exported))  # on the main host
    assert allowed.exit_code == 0, allowed.output
    assert security.load_public(main_home / "state" / "keys" / "allowed" / "b.key") == \
        security.load_pair(home / "state" / "keys" / "local.key_secret").public


def test_join_takes_the_gateway_given(tmp_path: Path, main_home: Path) -> None:
    assert join(tmp_path / "b", main_home, "--gateway", "10.1.2.9:4002").exit_code == 0
    venue = config.load(tmp_path / "b").venue
    assert (venue["host"], venue["port"]) == ("10.1.2.9", 4002)


@pytest.mark.parametrize(("args", "says"), [
    (["--join", "udp://10.1.2.3:17100", "--hub-key", "HUB", "--host-name", "b"],
     "--join wants tcp://HOST:PORT"),
    (["--join", "tcp://10.1.2.3", "--hub-key", "HUB", "--host-name", "b"],
     "--join wants tcp://HOST:PORT"),
    (["--join", "tcp://10.1.2.3:17100", "--host-name", "b"], "--join needs --hub-key"),
    (["--join", "tcp://10.1.2.3:17100", "--hub-key", "/nonexistent.key", "--host-name", "b"],
     "no CURVE key file /nonexistent.key"),
    (["--join", "tcp://10.1.2.3:17100", "--hub-key", "HUB", "--host-name", "B!"],
     "[hosts] name"),
    (["--join", "tcp://10.1.2.3:17100", "--hub-key", "HUB", "--host-name", "b", "--gateway",
      "10.1.2.9"], "--gateway wants HOST:PORT"),
])
def test_bad_join_input_is_refused_in_one_line_and_makes_no_home(
        tmp_path: Path, main_home: Path, args: list[str], says: str) -> None:
    hub = str(main_home / "state" / "keys" / "server.key")
    home = tmp_path / "b"
    result = ctl(home, "init", *(hub if a == "HUB" else a for a in args))
    assert result.exit_code == 19, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert not (home / config.CONFIG_FILE).exists()


def test_join_refuses_a_home_that_exists(tmp_path: Path, main_home: Path) -> None:
    result = join(main_home, main_home)
    assert result.exit_code == 19 and "already holds ats.toml" in result.stderr
