"""bench/figures.py and `python -m bench --json FILE`: a bench's recorded figures reach FILE."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: a bench in its own process, as the runner starts each one: it records two figures
FAKE_BENCH = textwrap.dedent("""
    from bench.figures import Figure, record

    record("fake", [
        Figure("round trip p50", 3.0, "ms", 2.0, "ratio <= 1.20", False),
        Figure("ticks", 1500.0, "/s"),
    ])
""")


@pytest.fixture(autouse=True)
def _bench_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # bench/ is not an installed package: the runner runs from the repo root
    monkeypatch.syspath_prepend(str(ROOT))


def _figures() -> ModuleType:
    return importlib.import_module("bench.figures")


def test_ratio_is_value_over_baseline_and_absent_without_a_usable_baseline() -> None:
    Figure = _figures().Figure
    assert Figure("x", 3.0, "ms", 2.0).ratio == pytest.approx(1.5)
    assert Figure("x", 3.0, "ms").ratio is None
    assert Figure("x", 3.0, "ms", 0.0).ratio is None


def test_to_json_names_the_bench_and_writes_nan_as_null() -> None:
    Figure = _figures().Figure
    row = Figure("x", math.nan, "ms", 2.0, "<= 80 MB", None).to_json("b")
    assert row == {"bench": "b", "name": "x", "value": None, "unit": "ms", "baseline": 2.0,
                   "ratio": None, "goal": "<= 80 MB", "met": None}


def test_record_does_nothing_without_the_runner(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    figures = _figures()
    monkeypatch.delenv(figures.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    figures.record("b", [figures.Figure("x", 1.0, "ms")])
    assert list(tmp_path.iterdir()) == []


def test_record_appends_across_calls_and_collect_reads_them_in_order(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    figures = _figures()
    jsonl = tmp_path / "figures.jsonl"
    monkeypatch.setenv(figures.ENV, str(jsonl))
    figures.record("a", [figures.Figure("one", 1.0, "ms")])
    figures.record("b", [figures.Figure("two", 2.0, "/s", 4.0)])
    rows = figures.collect(jsonl)
    assert [(r["bench"], r["name"], r["ratio"]) for r in rows] == [("a", "one", None),
                                                                   ("b", "two", 0.5)]


def test_collect_of_a_run_where_no_bench_recorded_is_empty(tmp_path: Path) -> None:
    assert _figures().collect(tmp_path / "figures.jsonl") == []


def test_json_option_writes_the_figures_a_bench_process_records(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    runner = importlib.import_module("bench.__main__")

    def run_one(name: str, timeout: float, env: dict[str, str] | None = None) -> object:
        # the real runner starts `python -m bench.bench_<name>`; this starts the fake the
        # same way, a process from the repo root with the environment the runner hands it
        proc = subprocess.run([sys.executable, "-c", FAKE_BENCH], cwd=runner.REPO, env=env,
                              timeout=timeout)
        return runner.Result(name, proc.returncode, 0.0)

    monkeypatch.setattr(runner, "available", lambda: ["fake"])
    monkeypatch.setattr(runner, "run_one", run_one)
    out = tmp_path / "figures.json"

    assert runner.main(["--json", str(out), "fake"]) == 0

    assert json.loads(out.read_text()) == [
        {"bench": "fake", "name": "round trip p50", "value": 3.0, "unit": "ms",
         "baseline": 2.0, "ratio": 1.5, "goal": "ratio <= 1.20", "met": False},
        {"bench": "fake", "name": "ticks", "value": 1500.0, "unit": "/s", "baseline": None,
         "ratio": None, "goal": "", "met": None},
    ]
    assert f"2 figures written to {out}" in capsys.readouterr().out
