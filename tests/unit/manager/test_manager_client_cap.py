"""IB's 32 API clients per Gateway: the registry refuses a strategy that would take its venue past
them, counting every clientId the system connects with (the strategies', the broker's, [data]
and [scheduler] client_id, the doctor's), at `ats-ctl add` (exit 26), at the manager's seeding
and at `ats-ctl up` before it seeds.

The CLI tests drive the real ats-manager control service on a private ipc endpoint of a temporary
ATS_HOME with a real registry in ArcticDB (LMDB); supervisord's side is `StubSupervisor`.
"""

from __future__ import annotations

import logging

import pytest
from managerkit import (
    ManagerService,
    StubSupervisor,
    close,
    ctl,
    new_manager,
    one_error_line,
    short_home,
)

from ats import apiclients, config
from ats.cli import lifecycle
from ats.manager import registry

SPEC = "strategies.example"


def room(cfg: config.Config) -> int:
    """How many strategies fit beside the system's own clients."""
    return apiclients.MAX_API_CLIENTS - len(set(apiclients.system_client_ids(cfg).values()))


def book(n: int) -> dict[str, str]:
    return {f"s{i:02d}": SPEC for i in range(n)}


def seeds_toml(n: int) -> str:
    rows = "".join(f'  {{name = "s{i:02d}", spec = "{SPEC}", target_weight = 0.0, '
                   f'min_weight = 0.0, max_weight = 0.01}},\n' for i in range(n))
    return f"[manager]\nseed_strategies = [\n{rows}]\n"


def test_the_system_counts_its_own_four_client_ids() -> None:
    with short_home() as home:
        cfg = config.load(home)
        assert apiclients.system_client_ids(cfg) == {
            "broker": cfg.venue["master_client_id"],
            "data fetch": cfg.section("data")["client_id"],
            "scheduler": cfg.section("scheduler")["client_id"],
            "doctor": apiclients.DOCTOR_CLIENT_ID}
        assert room(cfg) == apiclients.MAX_API_CLIENTS - 4


def test_add_past_the_cap_exits_26_with_one_line_and_registers_nothing() -> None:
    with short_home() as home:
        cfg = config.load(home)
        full = book(room(cfg))
        with ManagerService(cfg, full, StubSupervisor()) as m:
            result = ctl(home, "add", SPEC, "--name", "extra")
            registered = {e.name for e in m.registry}
    line = one_error_line(result, 26)
    assert f"strategy 'extra' would make {apiclients.MAX_API_CLIENTS + 1} API clients on venue " \
           f"{cfg.venue['host']}:{cfg.venue['port']}, more than IB's " \
           f"{apiclients.MAX_API_CLIENTS} per Gateway" in line
    assert f"{len(full)} strategies registered" in line
    for label, cid in apiclients.system_client_ids(cfg).items():
        assert f"{label} {cid}" in line
    assert "`ats-ctl remove` a strategy" in line  # the hint
    assert registered == set(full)


def test_a_removed_strategy_frees_its_place_and_the_last_one_fits() -> None:
    with short_home() as home:
        cfg = config.load(home)
        full = book(room(cfg))
        with ManagerService(cfg, full, StubSupervisor()) as m:
            assert ctl(home, "remove", "s00").exit_code == 0
            result = ctl(home, "add", SPEC, "--name", "extra")
            registered = {e.name for e in m.registry}
    assert result.exit_code == 0, result.output
    assert registered == (set(full) - {"s00"}) | {"extra"}
    assert len(registered) == room(cfg)


def test_the_manager_seeds_up_to_the_cap_and_logs_each_seed_past_it(
        caplog: pytest.LogCaptureFixture) -> None:
    with short_home() as home:
        fits = room(config.load(home))
        (home / config.CONFIG_FILE).write_text(seeds_toml(fits + 2))
        m = new_manager(config.load(home), {}, StubSupervisor())
        try:
            with caplog.at_level(logging.ERROR, logger="ats.manager"):
                m.seed()
            registered = [e.name for e in m.registry]
        finally:
            close(m)
    assert registered == list(book(fits))
    refused = [r.getMessage() for r in caplog.records if "cannot seed" in r.getMessage()]
    assert [msg.split(":")[0] for msg in refused] == \
        [f"cannot seed strategy s{fits:02d}", f"cannot seed strategy s{fits + 1:02d}"]
    assert all(f"more than IB's {apiclients.MAX_API_CLIENTS} per Gateway" in msg
               for msg in refused)


def test_up_with_more_seeds_than_fit_exits_26_before_starting_anything() -> None:
    with short_home() as home:
        fits = room(config.load(home))
        (home / config.CONFIG_FILE).write_text(seeds_toml(fits + 1))
        result = ctl(home, "up", "--no-wait")
        cfg = config.load(home)
        assert not cfg.supervisor_socket.exists()
    line = one_error_line(result, 26)
    assert f"{cfg.path} [manager] seed_strategies: {fits + 1} strategies would make " \
           f"{apiclients.MAX_API_CLIENTS + 1} API clients" in line
    assert f"room for {fits} more" in line


def test_up_ignores_the_seeds_once_the_registry_holds_strategies() -> None:
    with short_home() as home:
        fits = room(config.load(home))
        m = new_manager(config.load(home), book(1), StubSupervisor())
        close(m)
        (home / config.CONFIG_FILE).write_text(seeds_toml(fits + 1))
        assert lifecycle.seed_client_problem(config.load(home)) is None


def test_seeds_that_fit_need_no_look_at_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_read(uri: str) -> bool:
        raise AssertionError(f"the registry at {uri} was read")

    monkeypatch.setattr(registry, "is_empty", not_read)
    with short_home() as home:
        (home / config.CONFIG_FILE).write_text(seeds_toml(room(config.load(home))))
        assert lifecycle.seed_client_problem(config.load(home)) is None


SECOND_VENUE = '[[venues]]\nname = "second"\nkind = "ib"\nport = 14012\nmaster_client_id = 0\n'


def test_each_venue_has_its_own_32_clients() -> None:
    with short_home(SECOND_VENUE) as home:
        cfg = config.load(home)
        second = cfg.venue_named("second")
        assert apiclients.system_client_ids(cfg, second) == {"broker": 0}
        full = book(room(cfg))
        with ManagerService(cfg, full, StubSupervisor()) as m:
            refused = ctl(home, "add", SPEC, "--name", "extra")
            placed = ctl(home, "add", SPEC, "--name", "elsewhere", "--venue", "second")
            entries = {e.name: e for e in m.registry}
    assert "on venue main (127.0.0.1:14002)" in one_error_line(refused, 26)
    assert placed.exit_code == 0, placed.output
    assert entries["elsewhere"].venue == "second"
    assert "extra" not in entries


def test_a_strategy_on_a_venue_the_config_does_not_name_is_refused_with_exit_28() -> None:
    with short_home(SECOND_VENUE) as home:
        cfg = config.load(home)
        with ManagerService(cfg, {}, StubSupervisor()) as m:
            result = ctl(home, "add", SPEC, "--name", "lost", "--venue", "third")
            registered = {e.name for e in m.registry}
    line = one_error_line(result, 28)
    assert "unknown venue 'third'" in line and "'main', 'second'" in line
    assert "lost" not in registered


def test_up_counts_each_venues_seeds_against_its_own_gateway() -> None:
    rows = "".join(f'  {{name = "s{i:02d}", spec = "{SPEC}", target_weight = 0.0, '
                   f'min_weight = 0.0, max_weight = 0.01'
                   f'{", venue = " + chr(34) + "second" + chr(34) if i >= 28 else ""}}},\n'
                   for i in range(30))
    with short_home(f"[manager]\nseed_strategies = [\n{rows}]\n{SECOND_VENUE}") as home:
        assert lifecycle.seed_client_problem(config.load(home)) is None
