"""The real system under real supervisord: hub, manager, broker, simulator, strategies."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from systemkit import System, make_home


@pytest.fixture(scope="module")
def system_factory() -> Iterator[Callable[..., System]]:
    started: list[System] = []

    def start(strategies: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> System:
        system = System(make_home(strategies, extra))
        system.ctl("up", timeout=180)
        started.append(system)
        return system

    yield start
    for system in started:
        try:
            system.ctl("down", check=False, timeout=90)
        finally:
            pidfile = system.home / "run" / "supervisord.pid"
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)
            if os.environ.get("ATS_KEEP_HOME"):
                print(f"kept {system.home}")
            else:
                shutil.rmtree(system.home, ignore_errors=True)
