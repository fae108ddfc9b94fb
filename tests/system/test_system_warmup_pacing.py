"""Ten strategies starting, then restarting, at once under real supervisord: each warms up its
history through the broker (the market_data cache first, the venue only for what is missing,
paced for the whole account), and the simulator, which enforces IB's historical pacing, never
answers 162."""

from __future__ import annotations

import os
import re
import signal
from typing import Any

import pytest
from systemkit import PROBE, System, wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(420)]

#: six SMA strategies on minute bars of two stocks (identical requests if each asked the venue),
#: two on daily bars, two probes on 5-second bars
STRATEGIES = [
    *({"name": f"sma{i}", "spec": "strategies.example",
       "params": {"symbol": "SPY" if i % 2 else "QQQ", "slow": 20 + i}} for i in range(6)),
    *({"name": f"daily{i}", "spec": "strategies.example",
       "params": {"symbol": "IWM", "bar_size": "1d", "slow": 30}} for i in range(2)),
    *({"name": f"probe{i}", "spec": PROBE, "params": {"mode": "idle"}} for i in range(2)),
]
NAMES = [s["name"] for s in STRATEGIES]
WARMED = re.compile(r"warm-up history of (\S+) (\S+): (\d+) bars")
PACING = ("pacing violation", "Error 162", "error 162")


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory(STRATEGIES)
    wait_for(lambda: s.all_running(NAMES), 120, "ten strategies RUNNING")
    return s


def starts(system: System, name: str) -> list[list[tuple[str, str, int]]]:
    """Per completed start of the host: its warm-up answers (key, bar size, bars)."""
    done: list[list[tuple[str, str, int]]] = []
    current: list[tuple[str, str, int]] = []
    for line in system.log(f"strategy-{name}").splitlines():
        if (m := WARMED.search(line)) is not None:
            current.append((m[1], m[2], int(m[3])))
        elif f"strategy {name} running (" in line:
            done.append(current)
            current = []
    return done


def pacing_errors(system: System) -> list[str]:
    logs = ["gateway-sim", "broker", *(f"strategy-{n}" for n in NAMES)]
    return [f"{log}: {line}" for log in logs for line in system.log(log).splitlines()
            if any(p in line for p in PACING)]


def test_ten_strategies_restarting_at_once_warm_up_without_a_pacing_violation(
        system: System) -> None:
    wait_for(lambda: all(starts(system, n) for n in NAMES), 60, "each strategy warmed up")
    status = system.status()
    for name in NAMES:  # all at once
        os.kill(int(status[name]["pid"]), signal.SIGKILL)
    wait_for(lambda: all(len(starts(system, n)) == 2 for n in NAMES), 120,
             "each strategy restarted and warmed up again")
    for name in NAMES:
        lookback = 2 if name.startswith("probe") else 31 if name.startswith("daily") else 21
        for warmed in starts(system, name):
            key, bar, bars = warmed[0]  # (a second answer catches up on bars completed since)
            assert bars >= lookback, (name, key, bar, bars)
    assert pacing_errors(system) == []
    assert "history " in system.log("broker"), "the broker fetched the missing bars"
