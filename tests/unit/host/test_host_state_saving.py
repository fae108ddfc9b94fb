"""The strategy host saves the strategy's state whenever a hook changed it, atomically, so a
kill -9 loses at most the hook that was running; a write that fails is retried, not fatal."""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hostkit import temp_host

from ats.host import statefile
from ats.host.main import Host
from ats.sdk import Bar, Fill, Params, Strategy

NAME = "counter"
T0 = pd.Timestamp("2026-11-18T15:00:00Z")


class Counter(Strategy[Params]):
    params_type = Params

    def on_init(self) -> None:
        self.bars = 0
        self.filled = 0.0

    def on_start(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1

    def on_fill(self, fill: Fill) -> None:
        self.filled += fill.quantity

    def on_save(self) -> dict[str, Any]:
        return {"bars": self.bars, "filled": self.filled}

    def on_load(self, state: dict[str, Any]) -> None:
        self.bars, self.filled = int(state["bars"]), float(state["filled"])


@pytest.fixture
def host() -> Iterator[Host]:
    with temp_host(NAME) as h:
        h.strategy = Counter(NAME, Params(), h.ctx)
        h.strategy.start()
        h.strategy_running = True
        yield h


def bar(i: int) -> Bar:
    return Bar("SPY.STK", T0 + pd.Timedelta(minutes=i), 1.0, 1.0, 1.0, 1.0, 100.0)


def saved(host: Host) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(host.state_file.path.read_text())["user"]
    return state


def test_the_state_is_on_disk_after_every_bar_and_every_fill(host: Host) -> None:
    assert host.strategy is not None
    host.guard(host.strategy.handle_bar, bar(0))
    assert saved(host) == {"bars": 1, "filled": 0.0}
    host.guard(host.strategy.handle_fill, Fill("SPY.STK", 10.0, 1.0, 0.0, T0, "ref"))
    assert saved(host) == {"bars": 1, "filled": 10.0}


def test_an_unchanged_state_is_not_written_again(host: Host,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert host.strategy is not None
    host.guard(host.strategy.handle_bar, bar(0))
    writes: list[Path] = []
    monkeypatch.setattr(statefile, "atomic_write", lambda path, data: writes.append(path))
    host.guard(host.strategy.advance_clock, T0 + pd.Timedelta(seconds=1))
    assert writes == []


def test_a_full_disk_is_logged_once_and_the_save_retried_at_the_next_change(
        host: Host, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert host.strategy is not None

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statefile, "atomic_write", full)
    with caplog.at_level(logging.ERROR):
        host.guard(host.strategy.handle_bar, bar(0))
        host.guard(host.strategy.handle_bar, bar(1))
    assert caplog.text.count("could not save the strategy's state") == 1
    monkeypatch.undo()
    host.guard(host.strategy.handle_bar, bar(2))
    assert saved(host) == {"bars": 3, "filled": 0.0}


def test_the_state_is_read_back_by_the_next_process(host: Host) -> None:
    assert host.strategy is not None
    host.guard(host.strategy.handle_bar, bar(0))
    again = host.build_strategy({"spec": __file__, "params": {},
                                 "target_weight": 0.0, "min_weight": 0.0, "max_weight": 0.0})
    assert type(again).__name__ == "Counter" and again.bars == 1  # type: ignore[attr-defined]


def test_nothing_is_saved_before_the_strategy_has_started(host: Host) -> None:
    assert host.strategy is not None
    host.strategy_running = False
    host.guard(host.strategy.handle_bar, bar(0))
    assert not host.state_file.path.exists()
