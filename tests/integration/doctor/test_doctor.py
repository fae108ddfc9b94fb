"""ats-ctl doctor against the real simulator: the registered strategies' contracts qualify and
stream, the account is named paper, clientIds are counted, and what would fail live fails it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from managerkit import ctl, one_error_line, short_home
from pinned import SESSION

from ats import apiclients, config
from ats.manager.registry import Registry
from ats.sim.process import SimProcess

UNKNOWN = '''
from ats.sdk import BarSpec, Params, Stock, Strategy


class Ghost(Strategy[Params]):
    params_type = Params

    def subscriptions(self):
        return [BarSpec(Stock("NOSUCHNAME"), "1d", 1)]

    def on_start(self):
        pass
'''


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(seed=3, start=SESSION) as proc:
        yield proc


@pytest.fixture
def home(sim: SimProcess) -> Iterator[Path]:
    with short_home() as h:
        data = {"venue": {"kind": "sim", "host": sim.host, "port": sim.port}}
        (h / config.CONFIG_FILE).write_text(tomli_w.dumps(data))
        Registry(config.load(h).arctic_uri).add("example", "example")
        yield h


def rows(result: object) -> dict[str, dict[str, str]]:
    out = json.loads(result.stdout)  # type: ignore[attr-defined]
    return {r["check"]: r for r in out}


def test_doctor_passes_on_the_simulator_and_names_what_it_checked(home: Path) -> None:
    result = ctl(home, "doctor", "--json")
    assert result.exit_code == 0, result.output
    got = rows(result)
    assert got["server version"]["detail"] == "v176"
    assert got["account DU0000001"] == {"check": "account DU0000001", "status": "OK",
                                        "detail": "paper"}
    # the strategy's, and the broker's, [data] and [scheduler] client_id, the doctor's own
    in_use = 1 + len(apiclients.system_client_ids(config.load(home)))
    assert got["clientIds"]["status"] == "OK"
    assert got["clientIds"]["detail"].startswith(f"{in_use} in use")
    spy = got["example: SPY.STK"]
    assert spy["status"] == "OK" and "live data" in spy["detail"]
    assert got["clock"]["status"] == "INFO" and "simulated" in got["clock"]["detail"]


def test_a_contract_the_venue_does_not_know_fails_the_doctor_with_exit_25(
        home: Path, tmp_path: Path) -> None:
    ghost = tmp_path / "ghost.py"
    ghost.write_text(UNKNOWN)
    Registry(config.load(home).arctic_uri).add("ghost", str(ghost))
    result = ctl(home, "doctor", "--json")
    assert result.exit_code == 25, result.output
    assert rows(result)["ghost: NOSUCHNAME.STK"]["status"] == "FAIL"
    assert "ghost: NOSUCHNAME.STK: does not qualify" in one_error_line(result)


def test_a_configured_account_the_venue_does_not_manage_fails(home: Path) -> None:
    cfg = config.load(home)
    data = {"venue": {**{k: cfg.venue[k] for k in ("kind", "host", "port")},
                      "account": "U1234567"}}
    (home / config.CONFIG_FILE).write_text(tomli_w.dumps(data))
    result = ctl(home, "doctor", "--json")
    assert result.exit_code == 25
    assert rows(result)["[venue] account"]["status"] == "FAIL"


def test_no_gateway_listening_fails_at_connect(home: Path) -> None:
    result = ctl(home, "doctor", "--json", "--port", "9")
    assert result.exit_code == 25
    assert rows(result)["connect"]["status"] == "FAIL"
