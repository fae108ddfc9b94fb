"""Issue 16, several venues: a second Gateway (a second simulator) beside [venue].

One broker process keeps a desk per venue: its own master connection, ledger, intents, risk
and reconciliation. Each strategy trades on the venue its registry entry names, through the
Gateway of that venue, and its books say so.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from browserkit import chrome, missing
from systemkit import LOOSE, PROBE, System, broker, free_port, wait_for

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]



@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    second = {"name": "second", "kind": "sim", "port": free_port(), "admin_port": free_port()}
    s: System = system_factory(
        [{"name": "first_probe", "spec": PROBE, "params": {"mode": "hold", "quantity": 10}},
         {"name": "second_probe", "spec": PROBE, "params": {"mode": "hold", "quantity": 7},
          "venue": "second"}],
        {"venues": [second], "risk": {"account": LOOSE, "default": LOOSE}})
    wait_for(lambda: s.all_running(["first_probe", "second_probe"]), 60, "both probes RUNNING")
    return s


def sim_executions(system: System, venue: str) -> list[dict[str, Any]]:
    from ats.sim.admin import AdminClient

    cfg = system.cfg()
    port = (cfg.section("sim")["admin_port"] if venue == cfg.venue["name"]
            else cfg.venue_named(venue)["admin_port"])
    return list(AdminClient("127.0.0.1", port).call("executions")["executions"])


def held(system: System) -> dict[tuple[str, str], float]:
    return {(r["strategy"], r["venue"]): float(r["position"])
            for r in system.json("positions") if r["position"]}


def test_each_strategy_trades_through_its_own_venue_and_books(system: System) -> None:
    wait_for(lambda: held(system) == {("first_probe", "main"): 10.0,
                                      ("second_probe", "second"): 7.0}, 90,
             "each probe's position booked under its venue")
    entries = {e["name"]: e for e in system.json("list")}
    first_id, second_id = entries["first_probe"]["client_id"], entries["second_probe"]["client_id"]
    main_execs, second_execs = sim_executions(system, "main"), sim_executions(system, "second")
    assert {e["client_id"] for e in main_execs} == {first_id}
    assert {e["client_id"] for e in second_execs} == {second_id}
    fills = system.json("fills", "--limit", "0")
    assert {f["exec_id"] for f in fills if f["venue"] == "second"} == \
        {e["exec_id"] for e in second_execs}
    assert {f["exec_id"] for f in fills if f["venue"] == "main"} == \
        {e["exec_id"] for e in main_execs}
    # Each venue's write-ahead log holds its own strategies' intents only.
    home = system.home / "state"
    assert "second_probe" in (home / "venues" / "second" / "intents.jsonl").read_text()
    assert "second_probe" not in (home / "intents.jsonl").read_text()


def test_reconciliation_runs_against_each_venues_account(system: System) -> None:
    wait_for(lambda: len(held(system)) == 2, 90, "both positions booked")
    result = wait_for(lambda: (r := broker(system, "reconcile"))["checked"] >= 2 and r, 30,
                      "both venues' positions checked")
    assert result["breaks"] == []
    info = {s["name"]: s for s in system.json("status")}
    assert set(info["broker"]["venues"]) == {"main", "second"}
    assert all(v["venue"] == "connected" for v in info["broker"]["venues"].values())
    assert info["second_probe"]["venue_name"] == "second"
    assert info["first_probe"]["venue_name"] == "main"
    assert info["gateway-sim-second"]["state"] == "RUNNING"


@pytest.mark.skipif(missing() is not None, reason=f"NO BROWSER: {missing()}")
def test_the_web_console_names_each_strategys_venue_and_sums_the_accounts(
        system: System) -> None:
    wait_for(lambda: len(held(system)) == 2, 90, "both positions booked")
    address = system.ctl("web", "url").stdout.strip()

    def answers() -> bool:
        try:
            with urllib.request.urlopen(address, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    wait_for(answers, 60, "the web console answering")
    single = max(float(v["value"]) for v in broker(system, "account").values()
                 if v["tag"] == "NetLiquidation" and v["currency"] in ("USD", "BASE"))
    browser = chrome()
    try:
        browser.get(address)
        wait_for(lambda: browser.execute_script("return window.atsReady === true"), 20,
                 "page ready")
        shown = wait_for(lambda: browser.execute_script(
            "const out = {};"
            "for (const tr of document.querySelectorAll('#strategies tbody tr[data-name]'))"
            "  out[tr.dataset.name] = tr.querySelector('td.venue').textContent;"
            "return Object.keys(out).length === 2 ? out : null;"), 20, "the venue column")
        assert shown == {"first_probe": "main", "second_probe": "second"}
        # Two accounts of about a million each: the panel's net liquidation is their sum.
        nlv = wait_for(lambda: browser.execute_script(
            "const dt = [...document.querySelectorAll('dt')]"
            "  .find(d => d.textContent === 'net liquidation');"
            "return dt ? Number(dt.nextElementSibling.textContent.replace(/,/g, '')) : null;"),
            20, "the account panel")
        assert nlv > 1.5 * single
    finally:
        browser.quit()


def test_a_venue_the_config_does_not_name_is_refused_at_registration(system: System) -> None:
    proc = system.ctl("add", PROBE, "--name", "nowhere_probe", "--venue", "nowhere",
                      check=False)
    assert proc.returncode == 28, proc.stdout + proc.stderr
    assert "unknown venue 'nowhere'" in proc.stderr
    assert "nowhere_probe" not in {e["name"] for e in system.json("list")}


def test_a_lost_venue_leaves_the_other_trading_and_returns_by_itself(system: System) -> None:
    wait_for(lambda: len(held(system)) == 2, 90, "both positions booked")
    sv = system.supervisor()
    sv.rpc.stopProcess("gateway-sim-second")
    try:
        wait_for(lambda: broker_venues(system)["second"] != "connected", 30,
                 "the broker sees the second venue gone")
        assert broker_venues(system)["main"] == "connected"
        assert "acknowledged" in system.ctl("set", "first_probe", "quantity=12").stdout
        wait_for(lambda: held(system).get(("first_probe", "main")) == 12.0, 60,
                 "first_probe trading on while the second venue is down")
    finally:
        sv.rpc.startProcess("gateway-sim-second")
    wait_for(lambda: broker_venues(system)["second"] == "connected", 60,
             "the broker back on the second venue")
    assert held(system)[("second_probe", "second")] == 7.0


def broker_venues(system: System) -> dict[str, str]:
    rows = json.loads(system.ctl("status", "--json").stdout)
    broker_row = next(r for r in rows if r["name"] == "broker")
    return {name: v["venue"] for name, v in broker_row["venues"].items()}
