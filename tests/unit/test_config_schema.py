"""ats.toml against its schema: every command refuses a bad file with exit 17, naming the file
and the key; the defaults and every file the project writes (init, the system tests, the
benchmark) pass."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner, Result

from ats import config, config_schema, processes
from ats.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def ctl(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ATS_HOME": str(home)})


def write(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / config.CONFIG_FILE
    path.write_text(text)
    return path


def refusal(result: Result, path: Path) -> str:
    """The one line a refused config prints: the file, the problems, the hint; exit 17."""
    assert result.exit_code == 17, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert lines[0].endswith("(fix ats.toml)"), lines[0]
    return lines[0]


# -- refusals, through ats-ctl ---------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("[sim]\nspeed = 0\n", "[sim] speed must be > 0, got 0"),
    ("[sim]\nspeed = -2.5\n", "[sim] speed must be > 0, got -2.5"),
    ("[venue]\nprot = 4002\n", "unknown key [venue] prot (did you mean port?)"),
    ("[venu]\nport = 4002\n", "unknown section [venu] (did you mean [venue]?)"),
    ("[venue]\nport = 70000\n", "[venue] port must be an integer 1..65535, got 70000"),
    ("[venue]\nport = 4002.0\n", "[venue] port must be an integer, got 4002.0"),
    ("[venue]\nmaster_client_id = true\n", "[venue] master_client_id must be an integer, got True"),
    ('[venue]\nkind = "paper"\n', "[venue] kind must be 'sim' or 'ib', got 'paper'"),
    ('[venue]\nhost = ""\n', "[venue] host must not be empty"),
    ('[venue]\nconnect_timeout = "10"\n', "[venue] connect_timeout must be a number, got '10'"),
    ("[sim]\nadmin_port = 0\n", "[sim] admin_port must be an integer 1..65535, got 0"),
    ('[sim]\nmarket = "live"\n', "[sim] market must be 'synthetic' or 'stored', got 'live'"),
    ('[sim]\nstart = "yesterday"\n', "[sim] start must be an ISO 8601 instant (or empty), "
                                     "got 'yesterday'"),
    ("[sim]\nstart = 2026-08-31T18:30:00Z\n", "[sim] start must be a quoted ISO 8601 instant"),
    ("[broker]\nflush_seconds = 0.0\n", "[broker] flush_seconds must be > 0, got 0.0"),
    ("[manager]\nheartbeat_timeout = -1\n", "[manager] heartbeat_timeout must be > 0, got -1"),
    ('[manager]\nib_lib = "ib_sync"\n', "[manager] ib_lib must be 'ib_async' or 'ib_insync'"),
    ('[bus]\nallow_remote = "yes"\n', "[bus] allow_remote must be true or false, got 'yes'"),
    ("[bus]\nbase_port = 65535\n", "[bus] base_port must be an integer 1..65530, got 65535"),
    ('[bus]\ntransport = "tcp"\nhost = "192.0.2.7"\n',
     "[bus] host must be a loopback address, got '192.0.2.7'"),
    ('venue = "x"\n', "[venue] must be a table, got 'x'"),
    ("[risk.account]\nmax_qty = 5\n",
     "unknown key [risk.account] max_qty (did you mean max_order_qty?)"),
    ("[risk.default]\nmax_position = -1\n", "[risk.default] max_position must be >= 0, got -1"),
    ("[risk]\nmax_gross_leverage = 0\n", "[risk] max_gross_leverage must be > 0, got 0"),
    ('[manager]\nseed_strategies = [{name = "ltmt", tagret_weight = 0.1}]\n',
     "unknown key [manager] seed_strategies[0].tagret_weight (did you mean target_weight?)"),
    ('[manager]\nseed_strategies = [{spec = "strategies.ltmt"}]\n',
     "[manager] seed_strategies[0] needs 'name'"),
    ("[manager]\nseed_strategies = [3]\n",
     "[manager] seed_strategies[0] must be a strategy name or a table, got 3"),
    ('[manager]\nseed_strategies = [{name = "ltmt", target_weight = -0.1}]\n',
     "[manager] seed_strategies[0].target_weight must be >= 0, got -0.1"),
])
def test_a_bad_key_exits_17_naming_the_file_and_the_key(tmp_path: Path, text: str,
                                                       message: str) -> None:
    path = write(tmp_path / "home", text)
    line = refusal(ctl(path.parent, "status"), path)
    assert message in line


def test_every_problem_of_the_file_is_named_on_the_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "home", "[sim]\nspeed = 0\n[venue]\nprot = 1\n")
    line = refusal(ctl(path.parent, "status"), path)
    assert "[sim] speed must be > 0, got 0" in line
    assert "unknown key [venue] prot (did you mean port?)" in line


def test_seed_strategies_past_the_gross_leverage_exit_17(tmp_path: Path) -> None:
    # The shipped seed's targets sum to 0.92: more than a leverage of 0.5.
    path = write(tmp_path / "home", "[risk]\nmax_gross_leverage = 0.5\n")
    line = refusal(ctl(path.parent, "status"), path)
    assert "[manager] seed_strategies target weights sum to 0.92, more than " \
           "[risk] max_gross_leverage 0.5" in line


def test_a_seed_strategy_with_weights_out_of_order_exits_17(tmp_path: Path) -> None:
    path = write(tmp_path / "home", '[manager]\nseed_strategies = '
                                    '[{name = "ltmt", target_weight = 0.3, max_weight = 0.2}]\n')
    line = refusal(ctl(path.parent, "status"), path)
    assert "[manager] seed_strategies[0] (ltmt) weights must satisfy min <= target <= max, " \
           "got 0.05/0.3/0.2" in line


@pytest.mark.parametrize("args", [
    ("status",), ("list",), ("config", "--json"), ("positions",), ("pnl",), ("up",), ("down",),
    ("start", "ltmt"), ("weights", "ltmt", "--target", "0.1"), ("limits",), ("data", "list"),
    ("tail", "--count", "1"),
])
def test_every_command_refuses_a_bad_file_with_exit_17(tmp_path: Path,
                                                       args: tuple[str, ...]) -> None:
    path = write(tmp_path / "home", "[sim]\nspeed = 0\n")
    assert "[sim] speed must be > 0, got 0" in refusal(ctl(path.parent, *args), path)


def test_a_process_refuses_a_bad_file_before_it_builds_anything(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # ats-manager and ats-broker start through service_main; its logging setup would take
    # over the root logger (and caplog's handler) for the rest of the session.
    monkeypatch.setattr(processes, "setup_logging", lambda level: None)
    path = write(tmp_path / "home", "[venue]\nprot = 4002\n")
    built: list[config.Config] = []
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        processes.service_main("ats-manager", None, built.append, ["--home", str(path.parent)])
    assert exit_info.value.code != 0 and not built
    assert f"{path}: unknown key [venue] prot (did you mean port?)" in caplog.text


# -- what passes ---------------------------------------------------------------------------

def test_the_defaults_pass_the_schema() -> None:
    assert config_schema.check(config.DEFAULTS, config.DEFAULTS) == []
    seeds = config.seed_strategies(config.DEFAULTS)
    total = sum(s["target_weight"] for s in seeds)
    assert total <= config.DEFAULTS["risk"]["max_gross_leverage"]


def test_every_constrained_key_is_a_key_of_the_defaults() -> None:
    for path in config_schema.CONSTRAINTS:
        node: Any = config.DEFAULTS
        for part in path:
            if part == "*":
                break
            assert isinstance(node, dict) and part in node, f"{path} is not in DEFAULTS"
            node = node[part]


def test_the_file_make_run_writes_passes_and_shows_the_leverage(tmp_path: Path) -> None:
    home = tmp_path / "var"
    assert ctl(home, "init", "--if-missing").exit_code == 0  # as `make run` does
    result = ctl(home, "config", "--json")
    assert result.exit_code == 0, result.output
    effective = json.loads(result.stdout)
    assert effective["risk"]["max_gross_leverage"] == 1.0
    assert len(effective["manager"]["seed_strategies"]) == 11


def test_init_refuses_to_write_a_file_every_command_would_refuse(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"\[venue\] port must be an integer 1..65535"):
        config.init_home(tmp_path / "home", {"venue": {"port": 70000}})
    assert not (tmp_path / "home" / config.CONFIG_FILE).exists()


def test_the_files_the_system_tests_write_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "system"))
    import systemkit
    import test_system_processes
    import test_system_strategies
    import test_system_trading

    homes = [
        systemkit.make_home(test_system_processes.STRATEGIES),
        systemkit.make_home(test_system_strategies.SEED, test_system_strategies.SETTINGS),
        systemkit.make_home([{"name": "probe", "spec": test_system_trading.PROBE,
                              "params": {"mode": "idle"}}],
                            {"risk": {"account": test_system_trading.LOOSE,
                                      "default": test_system_trading.LOOSE}}),
        systemkit.make_home([{"name": "probe", "spec": "probe.py"}],
                            {"manager": {"strategy_python": "/x/bin/python",
                                         "ib_lib": "ib_insync"}}),
    ]
    try:
        for home in homes:
            config.load(home)
    finally:
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)


def test_the_file_the_system_benchmark_writes_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.bench_system import System

    system = System()
    try:
        config.load(system.home)
    finally:
        shutil.rmtree(system.home, ignore_errors=True)


def test_a_bus_over_tcp_may_name_a_remote_host_only_when_allowed(tmp_path: Path) -> None:
    text = '[bus]\ntransport = "tcp"\nhost = "192.0.2.7"\nallow_remote = true\ncurve = true\n'
    home = write(tmp_path / "home", text).parent
    assert config.load(home).data["bus"]["host"] == "192.0.2.7"


def test_s3_credentials_in_the_storage_uri_are_refused_without_echoing_them(
        tmp_path: Path) -> None:
    path = write(tmp_path / "home", '[storage]\narctic_uri = '
                                    '"s3s://s3.amazonaws.com:bkt?access=AKIAX&secret=hush"\n')
    line = refusal(ctl(path.parent, "status"), path)
    assert "[storage] arctic_uri holds S3 credentials" in line and "AWS_ACCESS_KEY_ID" in line
    assert "hush" not in line and "AKIAX" not in line


def test_an_s3_storage_uri_takes_its_credentials_from_aws_chain(tmp_path: Path) -> None:
    home = write(tmp_path / "home", '[storage]\narctic_uri = '
                                    '"s3s://s3.amazonaws.com:bkt?path_prefix=ats"\n').parent
    assert config.load(home).arctic_uri == \
        "s3s://s3.amazonaws.com:bkt?path_prefix=ats&aws_auth=true"


def test_plain_tcp_beyond_loopback_is_refused_in_one_line_naming_curve(tmp_path: Path) -> None:
    path = write(tmp_path / "home", '[bus]\ntransport = "tcp"\nhost = "192.0.2.7"\n'
                                    'allow_remote = true\n')
    line = refusal(ctl(path.parent, "status"), path)
    assert "[bus] host '192.0.2.7' is not a loopback address" in line
    assert "set [bus] curve = true" in line


def test_numbers_may_be_written_as_integers_and_iso_instants_as_strings(tmp_path: Path) -> None:
    home = write(tmp_path / "home", tomli_w.dumps({
        "sim": {"speed": 60, "cash": 5, "start": "2026-11-18T14:35:00+00:00"},
        "risk": {"max_gross_leverage": 2, "default": {"max_order_qty": 2.5}},
    })).parent
    sim = config.load(home).section("sim")
    assert (sim["speed"], sim["start"]) == (60, "2026-11-18T14:35:00+00:00")
