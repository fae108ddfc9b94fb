"""ATS_HOME's TOML configuration: defaults, overrides and clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ats import config


def test_init_creates_a_private_run_folder_and_a_complete_config(tmp_path: Path) -> None:
    cfg = config.init_home(tmp_path / "home", {"venue": {"port": 4002}})
    assert stat.S_IMODE(os.stat(cfg.run_dir).st_mode) == 0o700
    assert cfg.venue["port"] == 4002 and cfg.venue["kind"] == "sim"
    assert config.load(cfg.home).data == cfg.data
    assert cfg.arctic_uri == f"lmdb://{cfg.home / 'arctic'}"


def test_a_partial_file_is_merged_over_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "ats.toml").write_text('[venue]\nkind = "ib"\nport = 4001\n')
    cfg = config.load(tmp_path)
    assert (cfg.venue["kind"], cfg.venue["port"]) == ("ib", 4001)
    assert cfg.venue["master_client_id"] == 0  # untouched default


@pytest.mark.parametrize("text, message", [
    ("[venue\n", "not valid TOML"),
    ('[venue]\nkind = "paper"\n', "kind must be 'sim' or 'ib'"),
    ("[venue]\nport = 70000\n", "port must be an integer"),
    ('[bus]\ntransport = "udp"\n', "transport must be 'ipc' or 'tcp'"),
    ('venue = "x"\n', "must be a table"),
])
def test_a_bad_config_gets_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "ats.toml").write_text(text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(tmp_path)


def test_effective_config_names_the_venue_and_every_endpoint(tmp_path: Path) -> None:
    eff = config.init_home(tmp_path).effective()
    assert {"host", "port", "account"} <= set(eff["venue"])
    endpoints = eff["bus"]["endpoints"]
    assert {"publish", "subscribe", "manager", "broker"} <= set(endpoints)
    assert all(endpoints[k].startswith("ipc://") for k in ("publish", "subscribe", "manager"))


def test_the_simulator_replays_stored_bars_only_when_asked(tmp_path: Path) -> None:
    from ats.manager.venuesims import sim_args

    home = tmp_path / "h"
    assert "--arctic" not in sim_args(config.init_home(home))
    stored = config.init_home(tmp_path / "s", {"sim": {"market": "stored"}})
    args = sim_args(stored)
    assert args[args.index("--arctic") + 1] == stored.arctic_uri


def test_the_simulators_clock_starts_in_the_last_session_unless_wall_is_asked(
        tmp_path: Path) -> None:
    from ats.manager.venuesims import sim_args

    args = sim_args(config.init_home(tmp_path / "h"))
    assert args[args.index("--clock") + 1] == "session"
    wall = sim_args(config.init_home(tmp_path / "w", {"sim": {"clock": "wall"}}))
    assert wall[wall.index("--clock") + 1] == "wall"
    with pytest.raises(config.ConfigError, match="clock"):
        config.init_home(tmp_path / "x", {"sim": {"clock": "sometimes"}})
