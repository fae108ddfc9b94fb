"""ats-ctl logs | show, and the error columns of ats-ctl status and list, through click.

`show`, `status` and `list` talk to the real manager's control service (tests/managerkit.py's
`ManagerService`, without supervisord); the heartbeat a strategy host would send is put
into the manager's `hb_info` as it would arrive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from managerkit import ManagerService, StubSupervisor, ctl, short_home

from ats import config
from ats.cli import inspect_cmd
from ats.manager.main import Manager

NAME = "probe"
T0 = 1_000_000_000.0  #: when the last error was raised (its age is not asserted)


@pytest.fixture
def home() -> Iterator[Path]:
    with short_home() as path:
        yield path


def write_log(home: Path, name: str, lines: list[str]) -> Path:
    path = home / "log" / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


# -- logs ----------------------------------------------------------------------------------

def test_logs_n_prints_the_last_n_lines_of_the_strategy_log(home: Path) -> None:
    lines = [f"line {i}" for i in range(30)]
    write_log(home, f"strategy-{NAME}.log", lines)
    result = ctl(home, "logs", NAME, "-n", "5")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == lines[-5:]


def test_logs_prints_ten_lines_by_default_and_none_with_n_0(home: Path) -> None:
    lines = [f"line {i}" for i in range(30)]
    write_log(home, f"strategy-{NAME}.log", lines)
    assert ctl(home, "logs", NAME).output.splitlines() == lines[-10:]
    assert ctl(home, "logs", NAME, "-n", "0").output == ""


def test_logs_n_reads_whole_lines_across_blocks_of_a_long_log(home: Path) -> None:
    lines = [f"{i:06d} " + "x" * (i % 97) for i in range(5000)]  # many BLOCKs, lines astride
    write_log(home, f"strategy-{NAME}.log", lines)
    for n in (1, 150, 4999, 5000, 6000):
        result = ctl(home, "logs", NAME, "-n", str(n))
        assert result.output.splitlines() == lines[-n:], n


def test_logs_of_a_service_reads_its_own_log(home: Path) -> None:
    write_log(home, "broker.log", ["broker up"])
    assert ctl(home, "logs", "broker").output == "broker up\n"


def test_logs_of_a_strategy_that_never_ran_exits_21(home: Path) -> None:
    result = ctl(home, "logs", "never")
    assert result.exit_code == 21
    assert "no log for never" in result.stderr and "ats-ctl status" in result.stderr


def test_logs_refuses_a_name_that_is_a_path(home: Path) -> None:
    result = ctl(home, "logs", "../../etc/passwd")
    assert result.exit_code == 10
    assert "invalid bus name" in result.stderr


@pytest.mark.timeout(60)
def test_follow_yields_appended_text_and_rereads_a_rotated_log(tmp_path: Path) -> None:
    path = tmp_path / "strategy-x.log"
    path.write_text("old\n")
    stream = inspect_cmd.follow(path, path.stat().st_size, poll=0.01)
    try:
        with path.open("a") as f:
            f.write("new é\n")
        assert next(stream) == "new é\n"
        path.rename(tmp_path / "strategy-x.log.1")  # supervisord's rotation
        path.write_text("after rotation\n")
        assert next(stream) == "after rotation\n"
        path.write_text("trunc\n")  # shorter than what was read: from its start again
        assert next(stream) == "trunc\n"
    finally:
        stream.close()


# -- show, status, list ----------------------------------------------------------------------

HB: dict[str, Any] = {
    "pid": 4242, "venue": "connected", "trading_state": "HALTED", "errors_5m": 7,
    "errors_total": 40,
    "last_error": {"where": "handle_bar", "type": "ValueError", "message": "bad bar",
                   "time": T0},
}


@pytest.fixture
def manager(home: Path) -> Iterator[Manager]:
    stub = StubSupervisor({NAME: "RUNNING"})
    with ManagerService(config.load(home), {NAME: "strategies.example"}, stub) as m:
        m.hb_info[NAME] = dict(HB)
        yield m


def test_show_lists_parameters_with_types_defaults_and_current_values(
        home: Path, manager: Manager) -> None:
    manager.registry.update(NAME, params={"quantity": 3}, target_weight=0.05,
                                    min_weight=0.04, max_weight=0.06)
    result = ctl(home, "show", NAME)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "description:    SMA crossover demo: small size, trades often" in out
    assert "trading state:  HALTED" in out
    assert "errors (5 min): 7" in out
    assert "last error:     ValueError: bad bar in handle_bar" in out
    assert "min 4.00%  target 5.00%  max 6.00% of the account" in out
    rows = {line.split()[0]: line.split()[:4] for line in out.split("parameters:")[1]
            .splitlines()[3:]}
    assert rows["quantity"] == ["quantity", "int", "10", "3"]  # default 10, current 3
    assert rows["allow_short"] == ["allow_short", "bool", "yes", "yes"]
    assert set(rows) == {"symbol", "fast", "slow", "quantity", "allow_short", "bar_size"}


def test_show_json_gives_each_parameter_and_the_status(home: Path,
                                                       manager: Manager) -> None:
    shown = json.loads(ctl(home, "show", NAME, "--json").output)
    fast = next(p for p in shown["params"] if p["name"] == "fast")
    assert fast == {"name": "fast", "type": "int", "default": 5, "value": 5,
                    "doc": "fast SMA length (bars)", "min": 1, "max": None, "choices": None}
    assert shown["status"]["last_error"] == "ValueError: bad bar"
    assert shown["status"]["trading_state"] == "HALTED"


def test_show_of_an_unknown_strategy_exits_4(home: Path, manager: Manager) -> None:
    assert ctl(home, "show", "nope").exit_code == 4


def test_status_shows_trading_state_errors_and_the_last_error(
        home: Path, manager: Manager) -> None:
    result = ctl(home, "status")
    assert result.exit_code == 0, result.output
    header, _, row = result.output.splitlines()[:3]
    for column in ("TRADING", "ERRORS 5M", "LAST ERROR", "LAST ERROR AT"):
        assert column in header
    assert "HALTED" in row and "ValueError: bad bar" in row and "s ago" in row
    [status] = [s for s in json.loads(ctl(home, "status", "--json").output)
                if s["kind"] == "strategy"]
    assert (status["trading_state"], status["errors_5m"], status["last_error"],
            status["last_error_time"]) == ("HALTED", 7, "ValueError: bad bar", T0)


def test_list_shows_the_class_description_when_the_entry_has_none(
        home: Path, manager: Manager) -> None:
    result = ctl(home, "list")
    assert "SMA crossover demo: small size, trades often" in result.output
    [entry] = json.loads(ctl(home, "list", "--json").output)
    assert entry["description"] == "SMA crossover demo: small size, trades often"
