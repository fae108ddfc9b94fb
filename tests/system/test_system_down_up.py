"""Everything the operator sees and set survives `ats-ctl down` and `ats-ctl up`.

Two probe strategies trade on the simulator: `holder` holds a position, `rester` keeps a GTC
limit order resting. The operator changes a parameter, a weight, a strategy's risk limit and
halts `rester`. Then the whole system goes down and comes back up, and the JSON of status,
positions, fills, orders --all, limits, list and pnl is compared field by field. The only
fields allowed to differ are listed in VOLATILE, each with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from systemkit import LOOSE, PROBE, System, wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

VIEWS = {
    "status": ("status",),
    "positions": ("positions",),
    "fills": ("fills", "--limit", "0"),
    "orders --all": ("orders", "--all"),
    "limits": ("limits",),
    "list": ("list",),
    "pnl": ("pnl",),
}
#: view -> fields that must change with a restart or with the passing of (market) time.
VOLATILE: dict[str, set[str]] = {
    # New processes: new pids, uptimes and heartbeats, a new venue connection, and the
    # resources each process uses at the moment it is sampled.
    "status": {"pid", "uptime", "last_heartbeat", "venue_since", "rss_mb", "cpu_percent"},
    # Marked to the market, which moved while the system was down.
    "positions": {"mark", "market_value", "unrealized_pnl"},
    "pnl": {"unrealized_pnl", "market_value", "equity", "total_pnl"},
}


def snapshot(system: System) -> dict[str, Any]:
    return {view: system.json(*args) for view, args in VIEWS.items()}


def rows_by_key(view: str, rows: Any) -> dict[str, Any]:
    """Rows keyed by what names them, so the comparison does not depend on their order."""
    if not isinstance(rows, list):
        return {"": rows}
    out: dict[str, Any] = {}
    for row in rows:
        key = "|".join(str(row.get(k, "")) for k in
                       ("name", "strategy", "scope", "exec_id", "order_ref", "con_id", "symbol")
                       if k in row)
        out[key] = row
    return out


def differences(view: str, before: Any, after: Any, path: str = "") -> list[str]:
    volatile = VOLATILE.get(view, set())
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after)):
            if key in volatile:
                continue
            if key not in before or key not in after:
                out.append(f"{view}{path}.{key}: only {'after' if key in after else 'before'}")
                continue
            out += differences(view, before[key], after[key], f"{path}.{key}")
        return out
    if isinstance(before, list) and isinstance(after, list):
        return differences(view, rows_by_key(view, before), rows_by_key(view, after), path)
    if isinstance(before, float) or isinstance(after, float):
        ok = isinstance(before, int | float) and isinstance(after, int | float) \
            and abs(before - after) <= 1e-6 * max(1.0, abs(before))
        return [] if ok else [f"{view}{path}: {before!r} -> {after!r}"]
    return [] if before == after else [f"{view}{path}: {before!r} -> {after!r}"]


def settled(system: System) -> bool:
    """Both strategies RUNNING, the holder's position filled, the rester's order resting, and
    no order of either still on its way."""
    st = system.status()
    if any(st.get(n, {}).get("state") != "RUNNING" for n in ("holder", "rester")):
        return False
    held = [p for p in system.json("positions") if p["strategy"] == "holder" and p["position"]]
    working = system.json("orders")
    resting = [o for o in working if o["strategy"] == "rester" and o["status"] == "Submitted"]
    moving = [o for o in working if o["status"] not in ("Submitted", "PreSubmitted")]
    return bool(held) and len(resting) == 1 and not moving


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory(
        [{"name": "holder", "spec": PROBE, "params": {"mode": "hold", "quantity": 10},
          "target_weight": 0.1, "min_weight": 0.05, "max_weight": 0.15},
         {"name": "rester", "spec": PROBE, "params": {"mode": "rest", "quantity": 5}}],
        {"risk": {"account": LOOSE, "default": LOOSE}})
    wait_for(lambda: settled(s), 90, "holder holding and rester resting")
    # What the operator set at runtime.
    s.ctl("set", "holder", "offset=0.3")
    s.ctl("weights", "holder", "--target", "0.12", "--min", "0.06", "--max", "0.18")
    s.ctl("limits", "--strategy", "holder", "max_order_qty=400")
    s.ctl("halt", "rester")
    wait_for(lambda: not [o for o in s.json("orders") if o["strategy"] == "rester"], 30,
             "rester's order cancelled by the halt")
    # status shows a host's trading state from its heartbeat, which may still be on its way
    wait_for(lambda: s.status()["rester"].get("trading_state") == "HALTED", 30,
             "rester's status HALTED")
    return s


def test_every_view_is_the_same_after_down_and_up_except_what_a_restart_changes(
        system: System) -> None:
    before = snapshot(system)
    system.ctl("down", timeout=90)
    assert "ats is ready" in system.ctl("up", timeout=180).stdout
    wait_for(lambda: all(system.status().get(n, {}).get("state") == "RUNNING"
                         for n in ("holder", "rester")), 60, "both strategies RUNNING")
    # The books are rebuilt from the ledger's store at once; status waits for a heartbeat.
    status_diffs: list[str] = []

    def same_status() -> bool:
        status_diffs[:] = differences("status", before["status"], system.json("status"))
        return not status_diffs

    try:
        wait_for(same_status, 30, "status as before")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {status_diffs}") from None
    after = snapshot(system)
    diffs = [d for view in VIEWS for d in differences(view, before[view], after[view])]
    assert not diffs, "\n".join(diffs)
    # What was compared holds what the operator set and what was traded.
    by_name = {r["name"]: r for r in before["list"]}
    assert by_name["holder"]["params"]["offset"] == 0.3
    assert by_name["holder"]["target_weight"] == 0.12
    assert before["limits"]["strategies"]["holder"]["max_order_qty"] == 400
    assert {r["name"]: r.get("trading_state") for r in before["status"]}["rester"] == "HALTED"
    assert {(o["strategy"], o["status"]) for o in before["orders --all"]} == {
        ("holder", "Filled"), ("rester", "Cancelled")}
    assert before["fills"] and before["positions"] and before["pnl"]
