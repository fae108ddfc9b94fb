"""Bench figures as data: ``{name, value, unit, baseline, ratio}`` per figure.

`python -m bench --json FILE` names a JSON-lines file in ``ATS_BENCH_JSON`` for every bench it
runs; a bench that calls `record` appends its figures there, and the runner writes them all to
FILE as one JSON list. Without ``--json`` `record` does nothing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "ATS_BENCH_JSON"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    #: the same quantity measured on the baseline in the same run (None: no baseline)
    baseline: float | None = None
    #: what the issue asks of it, in words ("<= 80 MB", "ratio <= 2.00"); "" for none
    goal: str = ""
    #: whether the goal is met (None: no goal)
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def to_json(self, bench: str) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return None if x is None or math.isnan(x) else round(x, 6)

        return {"bench": bench, "name": self.name, "value": num(self.value), "unit": self.unit,
                "baseline": num(self.baseline), "ratio": num(self.ratio), "goal": self.goal,
                "met": self.met}


def record(bench: str, figures: list[Figure]) -> None:
    """Append ``figures`` to the runner's JSON-lines file, when one is named."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        for fig in figures:
            f.write(json.dumps(fig.to_json(bench)) + "\n")


def collect(jsonl: Path) -> list[dict[str, Any]]:
    """Every figure the benches appended, in order."""
    if not jsonl.exists():
        return []
    return [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line]
