"""Fixtures: a real simulator subprocess and an ATS_HOME pointing ats-ctl at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pinned import SESSION

from ats.cli.main import cli
from ats.config import Config, init_home
from ats.sim.process import SimProcess


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    # Each test's fresh ATS_HOME has a fresh pacer, yet they share this simulator (one account
    # for its pacing): its pacing has its own tests (test_sim_pacing_ib_async.py, and
    # test_data_warmup_history.py on a simulator of each test's own).
    with SimProcess(seed=11, start=SESSION, extra_args=["--no-history-pacing"]) as proc:
        yield proc


@pytest.fixture
def home(tmp_path: Path, sim: SimProcess) -> Config:
    return init_home(tmp_path / "home", {"venue": {"port": sim.port}})


@pytest.fixture
def ctl(home: Config) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--home", str(home.home), *args], catch_exceptions=False)

    return invoke
