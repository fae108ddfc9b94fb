"""The real system under real supervisord: hub, manager, broker, simulator, strategies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from systemkit import System, make_home, tear_down


@pytest.fixture(scope="module")
def system_factory() -> Iterator[Callable[..., System]]:
    started: list[System] = []

    def start(strategies: list[dict[str, Any]], extra: dict[str, Any] | None = None,
              prepare: Callable[[System], None] | None = None) -> System:
        system = System(make_home(strategies, extra))
        if prepare is not None:  # before `up`, e.g. `ats-ctl keys generate`
            prepare(system)
        system.ctl("up", timeout=180)
        started.append(system)
        return system

    yield start
    for system in started:
        tear_down(system)
