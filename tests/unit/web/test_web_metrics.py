"""GET /metrics: the bus's figures in Prometheus text format, read back with the Prometheus
client's own parser."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from webkit import FakeBackend, client, console

from ats.orders.events import FillEvent
from ats.stats.histogram import Histogram
from ats.web.metrics import STALE_SECONDS, Metrics

ROWS: list[dict[str, Any]] = [
    {"kind": "strategy", "name": "s1", "state": "RUNNING", "trading_state": "ACTIVE",
     "venue": "connected"},
    {"kind": "strategy", "name": "s2", "state": "CRASH_LOOP", "trading_state": None,
     "venue": None},
    {"kind": "process", "name": "broker", "state": "RUNNING", "venue": "disconnected"},
    {"kind": "process", "name": "bus", "state": "RUNNING"},
]


def stats_row(name: str, kind: str = "process", **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "state": "RUNNING", "pid": 10, "rss_bytes": 50 * 2**20,
            "cpu_percent": 12.5, "cpu_seconds": 3.25, "num_fds": 20, "max_fds": 1024,
            "threads": 4, "loop_lag_ms": 1.5, **extra}


def fill_event(n: int) -> dict[str, Any]:
    """The broker's body for s1's fill number `n`."""
    return FillEvent(exec_id=f"0000e0d5.{n:08x}.01.01", strategy="s1", symbol="SPY",
                     con_id=756733, side="BOT", shares=10.0, price=500.0, commission=1.0,
                     commission_pending=False, realized_pnl=0.0, order_ref=f"ats:s1:{n}",
                     client_id=11, perm_id=n, time="2026-01-05T14:30:00+00:00",
                     sec_type="STK", multiplier=1.0).encode()


def fed(now: list[float]) -> Metrics:
    m = Metrics(lambda: ROWS, clock=lambda: now[0])
    ack = Histogram([0.01, 0.1, 1.0])
    for v in (0.005, 0.05, 0.05, 2.0):
        ack.observe(v)
    m.observe("stats", "broker", "stats", stats_row("broker"))
    m.observe("stats", "bus", "stats", stats_row("bus", messages_in=500, messages_out=480,
                                                 bytes_in=9000, bytes_out=8000))
    m.observe("stats", "s1", "stats", stats_row("s1", "strategy",
                                                order_latency={"ack": ack.to_dict()}))
    for n in range(3):
        m.observe("fill", "s1", "fill", fill_event(n))
    m.observe("fill", "s1", "fill", {"exec_id": "x"})  # unreadable: not counted
    m.observe("risk", "s1", "rejected", {"reason": "max_order_qty"})
    m.observe("risk", "s1", "trading_state", {"state": "ACTIVE"})  # not a refusal
    return m


def samples(text: str) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = list(family.samples)
    return out


def value(found: dict[str, list[Sample]], family: str, name: str, **labels: str) -> float:
    [s] = [s for s in found[family] if s.name == name and
           all(s.labels.get(k) == v for k, v in labels.items())]
    return float(s.value)


def test_process_figures_are_labelled_by_process() -> None:
    found = samples(fed([0.0]).exposition().decode())
    assert value(found, "ats_process_resident_memory_bytes",
                 "ats_process_resident_memory_bytes", process="broker") == 50 * 2**20
    assert value(found, "ats_process_cpu_percent", "ats_process_cpu_percent",
                 process="s1", kind="strategy") == 12.5
    assert value(found, "ats_process_cpu_seconds", "ats_process_cpu_seconds_total",
                 process="broker") == 3.25
    assert value(found, "ats_process_open_fds", "ats_process_open_fds", process="bus") == 20
    assert value(found, "ats_process_event_loop_lag_seconds",
                 "ats_process_event_loop_lag_seconds", process="s1") == 0.0015
    assert value(found, "ats_bus_messages", "ats_bus_messages_total", direction="in") == 500


def test_strategy_and_venue_states_are_zero_or_one() -> None:
    found = samples(fed([0.0]).exposition().decode())
    state = {(s.labels["strategy"], s.labels["state"]): s.value
             for s in found["ats_strategy_state"]}
    assert state[("s1", "RUNNING")] == 1 and state[("s1", "STOPPED")] == 0
    assert state[("s2", "CRASH_LOOP")] == 1 and state[("s2", "RUNNING")] == 0
    assert sum(v for (name, _), v in state.items() if name == "s2") == 1
    assert value(found, "ats_strategy_trading_state", "ats_strategy_trading_state",
                 strategy="s1", state="ACTIVE") == 1
    assert value(found, "ats_venue_connected", "ats_venue_connected", process="s1") == 1
    assert value(found, "ats_venue_connected", "ats_venue_connected", process="broker") == 0
    assert not [s for s in found["ats_venue_connected"] if s.labels["process"] == "bus"]


def test_round_trips_are_a_histogram_and_fills_and_refusals_counters() -> None:
    found = samples(fed([0.0]).exposition().decode())
    buckets = {s.labels["le"]: s.value for s in found["ats_order_round_trip_seconds"]
               if s.name.endswith("_bucket")}
    assert buckets == {"0.01": 1, "0.1": 3, "1.0": 3, "+Inf": 4}
    assert value(found, "ats_order_round_trip_seconds", "ats_order_round_trip_seconds_count",
                 strategy="s1", stage="ack") == 4
    assert value(found, "ats_fills", "ats_fills_total", strategy="s1") == 3
    assert value(found, "ats_risk_refusals", "ats_risk_refusals_total", strategy="s1") == 1


def test_stats_that_stopped_coming_are_left_out() -> None:
    now = [0.0]
    m = fed(now)
    now[0] = STALE_SECONDS + 1
    found = samples(m.exposition().decode())
    assert found["ats_process_resident_memory_bytes"] == []


def test_metrics_are_served_without_a_login(tmp_path: Path) -> None:
    web = dataclasses.replace(console(tmp_path, FakeBackend()), metrics=fed([0.0]))
    r = client(web).get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    assert "ats_process_resident_memory_bytes" in samples(r.text)


def test_without_metrics_there_is_no_route(tmp_path: Path) -> None:
    assert client(console(tmp_path, FakeBackend())).get("/metrics").status_code == 404
