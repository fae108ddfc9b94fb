"""The adapter's typed helpers (qualify, details_contract, global_cancel) on both client
libraries: ib_async, and ib_insync 0.9.86 in its own venv, each against the real simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(__file__).with_name("adapter_seam_check.py")
DEFAULT_INSYNC = Path(__file__).resolve().parents[3] / ".venv-insync" / "bin" / "python"


def _python(lib: str) -> str | None:
    if lib == "ib_async":
        return sys.executable
    env = os.environ.get("ATS_INSYNC_PYTHON")  # `make test` builds it: missing is a failure
    if env:
        assert Path(env).exists(), f"ATS_INSYNC_PYTHON={env} does not exist"
        return env
    return str(DEFAULT_INSYNC) if DEFAULT_INSYNC.exists() else None


@pytest.mark.parametrize("lib", ["ib_async", "ib_insync"])
def test_the_adapters_helpers_qualify_list_and_cancel_on_either_library(
        lib: str, sim: SimProcess, new_client_id: Callable[[], int]) -> None:
    python = _python(lib)
    if python is None:
        pytest.skip("no ib_insync venv: set ATS_INSYNC_PYTHON or create .venv-insync")
    result = subprocess.run([python, str(SCRIPT), sim.host, str(sim.port), str(new_client_id())],
                            capture_output=True, text=True, timeout=90,
                            env={**os.environ, "ATS_IB_LIB": lib})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"adapter seam check passed on {lib}" in result.stdout
