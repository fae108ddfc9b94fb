"""Issue 17: a manual trade assigned to a strategy, end to end over the real processes.

A plain ib_async client (clientId 77, no orderRef) buys at the simulator: the broker books it
in `unattributed`. `ats-ctl assign` moves part of it into the `probe` strategy's book, whose
host takes its book again and manages the position by its own rule; the books still sum to
the account (reconcile), and the move survives a broker restart.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from systemkit import BIN, PROBE, System, wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

MANUAL = 10  #: shares the manual client buys
MOVED = 6  #: of them, assigned to probe
HOLD = 8  #: what probe is then told to hold: it buys only HOLD - MOVED


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory([{"name": "probe", "spec": PROBE, "params": {"mode": "idle"}}])
    wait_for(lambda: "probe started" in s.log("strategy-probe"), 60, "probe trading")
    return s


def manual_buy(system: System, shares: int) -> int:
    """A market order from a plain ib_async client at clientId 77; the contract's conId."""
    from ats.ib import adapter

    ib = adapter.IB()
    ib.connect("127.0.0.1", system.cfg().venue["port"], clientId=77)
    try:
        [spy] = ib.qualifyContracts(adapter.Stock("SPY", "SMART", "USD"))
        trade = ib.placeOrder(spy, adapter.MarketOrder("BUY", shares))
        deadline = time.monotonic() + 20
        while not trade.isDone() and time.monotonic() < deadline:
            ib.sleep(0.1)
        assert trade.orderStatus.status == "Filled"
        return int(spy.conId)
    finally:
        ib.disconnect()


def books(system: System, con_id: int) -> dict[str, float]:
    return {p["strategy"]: p["position"] for p in system.json("positions")
            if p["con_id"] == con_id}


def held(system: System) -> dict[tuple[str, int], float]:
    return {(p["strategy"], p["con_id"]): p["position"] for p in system.json("positions")}


def no_breaks(system: System) -> bool:
    return system.json("reconcile")["breaks"] == []


def test_a_manual_trade_assigned_to_a_strategy_is_managed_by_it_and_survives_a_restart(
        system: System) -> None:
    con_id = manual_buy(system, MANUAL)
    wait_for(lambda: books(system, con_id) == {"unattributed": MANUAL}, 20,
             "the manual trade in unattributed")
    wait_for(lambda: no_breaks(system), 20, "reconciliation before the move")
    print("\n$ ats-ctl positions   # before\n" + system.ctl("positions").stdout)
    cost = next(p["avg_cost"] for p in system.json("positions")
                if p["strategy"] == "unattributed")

    out = system.ctl("assign", "SPY", str(MOVED), "--to", "probe", "--reason", "manual hedge")
    print("$ ats-ctl assign SPY 6 --to probe --reason 'manual hedge'\n" + out.stdout)
    assert f"assigned +{MOVED} SPY" in out.stdout
    assert books(system, con_id) == {"unattributed": MANUAL - MOVED, "probe": MOVED}
    probe_row = next(p for p in system.json("positions") if p["strategy"] == "probe")
    assert probe_row["avg_cost"] == pytest.approx(cost)  # the cost basis moved with it
    print("$ ats-ctl positions   # after\n" + system.ctl("positions").stdout)
    print("$ ats-ctl fills\n" + system.ctl("fills").stdout)

    transfers = [f for f in system.json("fills", "--limit", "0") if f["kind"] == "transfer"]
    assert [(f["strategy"], f["side"], f["position_change"]) for f in transfers] == [
        ("unattributed", "OUT", -MOVED), ("probe", "IN", MOVED)]
    assert transfers[0]["by"].startswith("cli:") and transfers[0]["reason"] == "manual hedge"
    wait_for(lambda: "transfer" in system.log("strategy-probe")
             and "taking the book again" in system.log("strategy-probe"), 20,
             "probe's host to take its book again")

    # probe sees the position in its book: told to hold HOLD, it buys only the difference
    assert "acknowledged" in system.ctl("set", "probe", "mode=hold", f"quantity={HOLD}").stdout
    wait_for(lambda: books(system, con_id).get("probe") == HOLD, 60, "probe to hold HOLD")
    orders = system.json("orders", "--all", "--strategy", "probe")
    assert [o["quantity"] for o in orders] == [HOLD - MOVED]
    assert "acknowledged" in system.ctl("set", "probe", "mode=idle").stdout
    wait_for(lambda: no_breaks(system), 20, "reconciliation after the move")
    print("$ ats-ctl reconcile\n" + system.ctl("reconcile").stdout)

    from ats.cli.lifecycle import supervisord_conf

    restarted = time.time()
    subprocess.run([str(BIN / "supervisorctl"), "-c", str(supervisord_conf(system.cfg())),
                    "restart", "broker"], env=system.env, check=True, timeout=60)

    def synced() -> bool:
        row = next(s for s in system.json("status") if s["name"] == "broker")
        return row.get("venue") == "connected" and float(row.get("venue_since") or 0) > restarted

    wait_for(synced, 60, "the restarted broker connected to the venue")
    assert books(system, con_id) == {"unattributed": MANUAL - MOVED, "probe": HOLD}
    assert [f for f in system.json("fills", "--limit", "0")
            if f["kind"] == "transfer"] == transfers
    wait_for(lambda: no_breaks(system), 20, "reconciliation after the restart")
    print("$ ats-ctl positions   # after the broker restart\n" + system.ctl("positions").stdout)


REFUSED = [
    (["SPY", "1000", "--to", "probe"], 7, "unattributed holds 4 SPY: cannot move 1000"),
    (["SPY", "1", "--to", "nobody"], 4, "unknown strategy 'nobody'"),
    (["QQQ", "1", "--to", "probe"], 7, "unattributed holds no QQQ"),
]


def test_refusals_are_one_line_with_their_exit_code_and_change_nothing(system: System) -> None:
    before = held(system)
    for args, exit_code, words in REFUSED:
        proc = system.ctl("assign", *args, check=False)
        assert proc.returncode == exit_code, proc.stderr
        assert words in proc.stderr and proc.stderr.count("\n") == 1
    assert held(system) == before


def test_a_halted_strategy_takes_a_position_only_with_force(system: System) -> None:
    system.ctl("halt", "probe")
    try:
        proc = system.ctl("assign", "SPY", "1", "--to", "probe", check=False)
        assert proc.returncode == 15 and "probe is HALTED" in proc.stderr
        rows = json.loads(system.ctl("assign", "SPY", "1", "--to", "probe", "--force",
                                     "--json").stdout)
        assert all(r["forced"] for r in rows)
    finally:
        system.ctl("resume", "probe")
    wait_for(lambda: no_breaks(system), 20, "reconciliation after the forced move")
