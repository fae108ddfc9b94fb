"""[[venues]]: further Gateways or accounts beside [venue], each with its defaults filled in,
checked at load with one sentence per problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ats import config
from ats.cli import readiness
from ats.manager import venuesims


def home_with(tmp_path: Path, toml: str) -> Path:
    home = tmp_path / "home"
    config.init_home(home)
    (home / config.CONFIG_FILE).write_text(toml)
    return home


def test_a_further_sim_venue_has_the_same_market_its_own_account_and_state(tmp_path: Path) -> None:
    cfg = config.load(home_with(tmp_path, '[[venues]]\nname = "second"\nport = 14012\n'
                                          'admin_port = 14013\n'))
    assert [v["name"] for v in cfg.venues] == ["main", "second"]
    second = cfg.venue_named("second")
    assert (second["kind"], second["accounts"], second["seed"]) == \
        ("sim", "DU0000002", cfg.section("sim")["seed"])
    args = venuesims.sim_args(cfg, second)
    assert args[args.index("--port") + 1] == "14012"
    assert args[args.index("--admin-port") + 1] == "14013"
    assert args[args.index("--state") + 1].endswith("gateway-sim-second.json")
    assert venuesims.sim_programs(cfg) == ["gateway-sim-second"]
    assert cfg.venue_named(None)["name"] == "main"


@pytest.mark.parametrize(("toml", "problem"), [
    ('[[venues]]\nname = "main"\nkind = "ib"\nport = 4001\n',
     "[[venues]] name 'main' is used by more than one venue"),
    ('[[venues]]\nname = "b"\nkind = "ib"\nport = 14002\n',
     "[[venues]] 'b' port 14002 is also 'main' port 14002"),
    ('[[venues]]\nname = "b"\nport = 4001\n',
     "[[venues]] 'b' is a sim venue: set its admin_port"),
    ('[[venues]]\nname = "B"\nport = 4001\n', "must be lowercase letters"),
    ('[[venues]]\nkind = "ib"\nport = 4001\n', "needs 'name'"),
    ('[manager]\nseed_strategies = [{name = "ltmt", venue = "x"}]\n',
     "[manager] seed_strategies[0] (ltmt) venue 'x' is neither"),
])
def test_a_bad_venue_is_refused_at_load_in_one_sentence(tmp_path: Path, toml: str,
                                                         problem: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(problem)):
        config.load(home_with(tmp_path, toml))


def test_an_unknown_venue_name_is_a_config_error_naming_the_venues(tmp_path: Path) -> None:
    cfg = config.load(home_with(tmp_path, ""))
    with pytest.raises(config.ConfigError, match=r"unknown venue 'x'.*'main'"):
        cfg.venue_named("x")


def test_readiness_names_each_venue_the_broker_is_not_connected_to(tmp_path: Path) -> None:
    cfg = config.load(home_with(tmp_path, '[[venues]]\nname = "second"\nkind = "ib"\n'
                                          'port = 4001\n'))
    broker = {"kind": "process", "name": "broker", "state": "RUNNING", "venue": "disconnected",
              "venues": {"main": {"venue": "connected"}, "second": {"venue": "disconnected"}}}
    r = readiness.assess(cfg, [broker])
    assert r.waiting == ["the broker is not connected to the venue at 127.0.0.1:4001 "
                         "([[venues]] 'second' host and port in ats.toml)"]


def test_venues_appended_to_the_file_init_writes_load(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config.init_home(home)
    with (home / config.CONFIG_FILE).open("a") as f:
        f.write('\n[[venues]]\nname = "second"\nkind = "ib"\nport = 4001\n')
    assert [v["name"] for v in config.load(home).venues] == ["main", "second"]
