"""What a strategy host's process loads (issue 15: an idle host's memory). Its entry module
must not pull in the libraries and packages only other processes use: each is memory in every
one of up to 28 hosts. Checked in a fresh interpreter, whose sys.modules is the host's own."""

from __future__ import annotations

import json
import subprocess
import sys

#: loaded by other processes only: the manager and `ats-ctl up` (the config's schema), the
#: broker and the data jobs (ArcticDB), the first host of the day (the exchange calendars,
#: kept in run/calendars for the others), the web console, the alerts, the CLI, reports.
NOT_IN_A_HOST = (
    "arcticdb", "jsonschema", "exchange_calendars", "apprise", "fastapi", "uvicorn",
    "starlette", "click", "supervisor", "prometheus_client", "croniter", "empyrical",
    "matplotlib", "pyarrow", "scipy", "psutil",
    "ats.agent", "ats.alerts", "ats.broker", "ats.cli", "ats.doctor", "ats.manager",
    "ats.report", "ats.scheduler", "ats.sim", "ats.storage", "ats.web", "ats.config_schema",
    "ats.data.store", "ats.data.fetch", "ats.data.importer", "ats.data.manager",
    "ats.data.browse", "ats.data.ranges", "ats.sdk.backtest", "ats.sdk.testkit", "bus.hub",
)


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; import json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_host_entry_module_loads_no_library_only_other_processes_use() -> None:
    loaded = modules_after("import ats.host.main")
    assert "ats.host.main" in loaded
    assert sorted(m for m in NOT_IN_A_HOST if m in loaded) == []

