"""Target weights: their sum across strategies stays within [risk] max_gross_leverage, and a
strategy that sizes its orders by weight does not start without one.

The CLI tests drive the real ats-manager control service (`Manager.service`) on a private ipc
endpoint of a temporary ATS_HOME, with a real registry in ArcticDB (LMDB), as
tests/unit/cli/test_cli_exit_codes.py does; supervisord's side is `StubSupervisor`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from managerkit import (
    Book,
    ManagerService,
    StubSupervisor,
    close,
    ctl,
    new_manager,
    one_error_line,
    short_home,
)

from ats import config
from ats.manager import supervisor as sv
from ats.manager.main import Manager
from ats.sdk.loader import BUILTIN, load_strategy

#: ltmt sizes by weight; fixed (strategies.example) trades a fixed quantity.
BOOK: Book = {"ltmt": ("strategies.ltmt", 0.4, 0.5, 0.6),
              "s2": ("strategies.s2", 0.3, 0.4, 0.5)}


@pytest.fixture
def home() -> Iterator[Path]:
    with short_home() as path:
        yield path


def targets(m: Manager) -> dict[str, float]:
    return {e.name: e.target_weight for e in m.registry}


# -- the gross leverage ----------------------------------------------------------------------

def test_weights_past_the_gross_leverage_exit_7_and_change_nothing(home: Path) -> None:
    with ManagerService(config.load(home), BOOK, StubSupervisor()) as m:
        result = ctl(home, "weights", "s2", "--target", "0.6", "--max", "0.7")
        after = targets(m)
    line = one_error_line(result, 7)
    assert "target weights would sum to 1.1 across 2 strategies (s2 0.6), more than " \
           "[risk] max_gross_leverage 1" in line
    assert "or pass --force" in line
    assert after == {"ltmt": 0.5, "s2": 0.4}


def test_forced_weights_past_the_gross_leverage_are_stored_with_a_warning(home: Path) -> None:
    with ManagerService(config.load(home), BOOK, StubSupervisor()) as m:
        result = ctl(home, "weights", "s2", "--target", "0.6", "--max", "0.7", "--force")
        after = targets(m)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: target weights would sum to 1.1")
    assert "s2: weights 0.3/0.6/0.7" in result.stdout
    assert after == {"ltmt": 0.5, "s2": 0.6}


def test_weights_within_a_configured_leverage_are_accepted_without_a_warning() -> None:
    with short_home("[risk]\nmax_gross_leverage = 1.5\n") as home, \
            ManagerService(config.load(home), BOOK, StubSupervisor()) as m:
        result = ctl(home, "weights", "s2", "--target", "0.6", "--max", "0.7")
        after = targets(m)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert after["s2"] == 0.6


def test_lowering_a_target_of_a_book_already_past_the_leverage_is_allowed(home: Path) -> None:
    # Registered before a lower leverage was configured: 0.7 + 0.6 = 1.3 > 1.0.
    book: Book = {"ltmt": ("strategies.ltmt", 0.6, 0.7, 0.8), "s2": ("strategies.s2", 0, 0.6, 1)}
    with ManagerService(config.load(home), book, StubSupervisor()) as m:
        lowered = ctl(home, "weights", "s2", "--target", "0.5")
        raised = ctl(home, "weights", "ltmt", "--target", "0.75")
        after = targets(m)
    assert lowered.exit_code == 0, lowered.output
    assert "max_gross_leverage" in one_error_line(raised, 7)
    assert after == {"ltmt": 0.7, "s2": 0.5}


def test_add_past_the_gross_leverage_exits_7_unless_forced(home: Path) -> None:
    add = ("add", "strategies.example", "--name", "extra", "--target-weight", "0.2",
           "--max-weight", "0.3")
    with ManagerService(config.load(home), BOOK, StubSupervisor()) as m:
        refused = ctl(home, *add)
        registered_after_refusal = set(targets(m))
        forced = ctl(home, *add, "--force")
        after = targets(m)
    assert "target weights would sum to 1.1 across 3 strategies (extra 0.2)" in \
        one_error_line(refused, 7)
    assert registered_after_refusal == {"ltmt", "s2"}
    assert forced.exit_code == 0, forced.output
    assert forced.stderr.startswith("warning: target weights would sum to 1.1")
    assert after["extra"] == 0.2


def test_adding_a_registered_name_exits_9_whatever_its_weight(home: Path) -> None:
    with ManagerService(config.load(home), BOOK, StubSupervisor()):
        result = ctl(home, "add", "strategies.s2", "--name", "s2", "--target-weight", "0.9",
                     "--max-weight", "1")
    assert "strategy 's2' is already registered" in one_error_line(result, 9)


def test_the_shipped_seed_registers_every_strategy_within_the_default_leverage(
        home: Path) -> None:
    cfg = config.load(home)
    m = new_manager(cfg, {}, StubSupervisor())
    try:
        m.seed()
        entries = list(m.registry)
    finally:
        close(m)
    assert {e.name for e in entries} == set(BUILTIN)
    assert all(e.desired == "running" and e.target_weight > 0 for e in entries)
    assert sum(e.target_weight for e in entries) <= cfg.max_gross_leverage


# -- no target weight at start ---------------------------------------------------------------

UNWEIGHTED: Book = {"ltmt": ("strategies.ltmt", 0.0, 0.0, 0.2),
                    "fixed": ("strategies.example", 0.0, 0.0, 1.0)}


def test_start_of_a_weight_sized_strategy_without_a_target_weight_exits_7(home: Path) -> None:
    stub = StubSupervisor()
    with ManagerService(config.load(home), UNWEIGHTED, stub) as m:
        result = ctl(home, "start", "ltmt")
        desired = m.registry.get("ltmt").desired
    line = one_error_line(result, 7)
    assert "strategy 'ltmt' sizes its orders by its target weight, which is 0" in line
    assert "ats-ctl weights ltmt --target" in line
    assert ("start", sv.program_name("ltmt")) not in stub.calls
    assert desired == "stopped"


def test_restart_of_a_weight_sized_strategy_without_a_target_weight_exits_7(home: Path) -> None:
    stub = StubSupervisor()
    with ManagerService(config.load(home), UNWEIGHTED, stub):
        result = ctl(home, "restart", "ltmt")
    assert "sizes its orders by its target weight" in one_error_line(result, 7)
    assert not [c for c in stub.calls if c[0] in ("start", "stop")]


def test_a_strategy_that_trades_fixed_quantities_starts_without_a_weight(home: Path) -> None:
    stub = StubSupervisor()
    with ManagerService(config.load(home), UNWEIGHTED, stub):
        result = ctl(home, "start", "fixed")
    assert result.exit_code == 0, result.output
    assert ("start", sv.program_name("fixed")) in stub.calls


def test_a_weight_sized_strategy_starts_once_it_has_a_target_weight(home: Path) -> None:
    stub = StubSupervisor()
    with ManagerService(config.load(home), UNWEIGHTED, stub):
        set_weights = ctl(home, "weights", "ltmt", "--target", "0.1")
        result = ctl(home, "start", "ltmt")
    assert set_weights.exit_code == 0, set_weights.output
    assert result.exit_code == 0, result.output
    assert ("start", sv.program_name("ltmt")) in stub.calls


def test_the_manager_does_not_revive_an_unweighted_weight_sized_strategy(home: Path) -> None:
    # Its desired state is running (from before this rule): the manager's start skips it.
    stub = StubSupervisor()
    m = new_manager(config.load(home), UNWEIGHTED, stub)
    try:
        for name in UNWEIGHTED:
            m.registry.update(name, desired="running")
        asyncio.run(m.sync_programs())
    finally:
        close(m)
    started = [c[1] for c in stub.calls if c[0] == "start"]
    assert started == [sv.program_name("fixed")]


def test_a_seed_that_sizes_by_weight_without_a_target_is_registered_but_not_started() -> None:
    with short_home('[manager]\nseed_strategies = [\n'
                     '  {name = "ltmt", target_weight = 0.0, min_weight = 0.0},\n'
                     '  {name = "example", target_weight = 0.0, min_weight = 0.0},\n]\n') as home:
        m = new_manager(config.load(home), {}, StubSupervisor())
        try:
            m.seed()
            desired = {e.name: e.desired for e in m.registry}
        finally:
            close(m)
    assert desired == {"ltmt": "stopped", "example": "running"}


def test_every_shipped_strategy_that_sizes_from_its_weight_says_so() -> None:
    helpers = ("order_target_percent", "rebalance_to_weight", "capital()", "self.weights")
    for name, spec in BUILTIN.items():
        cls: Any = load_strategy(spec)
        source = inspect.getsource(inspect.getmodule(cls))  # type: ignore[arg-type]
        uses_weight = any(h in source for h in helpers)
        assert getattr(cls, "sizes_by_weight", False) == uses_weight, name
