"""ib_insync as a drop-in: a strategy host on ib_insync 0.9.86 (its own venv) trades through the
same system, with the broker on ib_async, and every fill is attributed to it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from systemkit import PROBE, System, wait_for

pytestmark = [pytest.mark.system, pytest.mark.insync, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
INSYNC = os.environ.get("ATS_INSYNC_PYTHON") or str(ROOT / ".venv-insync" / "bin" / "python")


@pytest.mark.skipif(not Path(INSYNC).exists(), reason="no ib_insync venv (make test builds it)")
def test_strategy_host_on_ib_insync_trades_and_is_attributed(system_factory: Any) -> None:
    system: System = system_factory(
        [{"name": "probe", "spec": PROBE, "params": {"mode": "churn", "quantity": 3}}],
        {"manager": {"strategy_python": INSYNC, "ib_lib": "ib_insync"}})
    wait_for(lambda: "ib_insync 0.9.86" in system.log("strategy-probe"), 90,
             "the probe host running on ib_insync")

    def probe_fills() -> list[dict[str, Any]] | None:
        fills = [f for f in system.json("fills", "--limit", "0") if f["strategy"] == "probe"]
        return fills if len(fills) >= 4 else None

    fills = wait_for(probe_fills, 90, "four probe fills in the ledger")
    assert all(f["order_ref"].startswith("ats:probe:") for f in fills)
    assert "Traceback" not in system.log("strategy-probe")
