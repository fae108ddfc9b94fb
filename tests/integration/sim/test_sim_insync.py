"""Runs the protocol check with ib_insync 0.9.86, which needs its own virtual env."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pinned import SESSION

from ats.sim.process import SimProcess

SCRIPT = Path(__file__).with_name("insync_protocol_check.py")
DEFAULT_PYTHON = Path(__file__).resolve().parents[3] / ".venv-insync" / "bin" / "python"


def _insync_python() -> str | None:
    """`make test` names the venv it built; then a missing one is a failure, not a skip."""
    env = os.environ.get("ATS_INSYNC_PYTHON")
    if env:
        assert Path(env).exists(), f"ATS_INSYNC_PYTHON={env} does not exist"
        return env
    return str(DEFAULT_PYTHON) if DEFAULT_PYTHON.exists() else None


@pytest.mark.timeout(120)
def test_ib_insync_speaks_to_the_simulator() -> None:
    python = _insync_python()
    if python is None:
        pytest.skip("no ib_insync venv: set ATS_INSYNC_PYTHON or create .venv-insync")
    with SimProcess(seed=11, start=SESSION) as sim:
        result = subprocess.run([python, str(SCRIPT), sim.host, str(sim.port)],
                                capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
