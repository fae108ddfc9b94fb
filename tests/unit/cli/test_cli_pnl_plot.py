"""ats-ctl pnl --plot draws each strategy's P&L and their TOTAL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest

from ats.cli import trading


def test_pnl_plot_draws_a_total_line_that_sums_the_strategies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures: list[Any] = []
    monkeypatch.setattr(plt, "close", figures.append)
    samples = [  # b is first sampled at the second time, and not at the third
        {"ts": "2026-11-18T15:00:00+00:00", "strategy": "a", "equity": 10.0},
        {"ts": "2026-11-18T15:00:05+00:00", "strategy": "a", "equity": 20.0},
        {"ts": "2026-11-18T15:00:05+00:00", "strategy": "b", "equity": -5.0},
        {"ts": "2026-11-18T15:00:10+00:00", "strategy": "a", "equity": 30.0},
    ]
    path = tmp_path / "pnl.png"
    trading._plot_equity(samples, str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    [fig] = figures
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert set(lines) == {"a", "b", "TOTAL"}
    assert lines["TOTAL"] == [10.0, 15.0, 25.0]
