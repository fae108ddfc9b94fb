"""The stats publisher over a recording publisher: programs sampled, heartbeats merged."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ats.stats.publisher import StatsPublisher


@dataclass(frozen=True)
class Program:
    name: str
    state: str
    pid: int


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, topic: str, type: str, body: dict[str, Any]) -> int:
        self.sent.append((topic, type, body))
        return len(self.sent)


def test_each_program_gets_a_stats_message_with_its_heartbeat_figures() -> None:
    rec = Recorder()
    stats = StatsPublisher(rec, {"interval": 1.0})  # type: ignore[arg-type]
    me = os.getpid()
    hb = {"s1": {"pid": me, "loop_lag_ms": 3.5, "order_latency": {"ack": {"count": 0}}},
          "broker": {"pid": 1, "loop_lag_ms": 9.0}}  # a beat of another run of the broker
    rows = stats.tick([Program("strategy-s1", "RUNNING", me), Program("broker", "RUNNING", me),
                       Program("strategy-s2", "STOPPED", 0)], hb)
    assert [(r["name"], r["kind"]) for r in rows] == \
        [("broker", "process"), ("s1", "strategy"), ("s2", "strategy")]
    by_topic = {t: (ty, b) for t, ty, b in rec.sent}
    assert set(by_topic) == {"stats.s1.", "stats.broker.", "stats.s2."}
    kind, s1 = by_topic["stats.s1."]
    assert kind == "stats" and s1["pid"] == me and s1["rss_mb"] > 1 and s1["threads"] >= 1
    assert s1["loop_lag_ms"] == 3.5 and s1["order_latency"] == {"ack": {"count": 0}}
    assert "loop_lag_ms" not in by_topic["stats.broker."][1]
    assert by_topic["stats.s2."][1]["rss_mb"] is None
    assert stats.figures("s1")["rss_mb"] == s1["rss_mb"]
    assert stats.figures("nobody") == {"rss_mb": None, "cpu_percent": None}


def test_bus_rates_come_from_the_hubs_counters() -> None:
    rec = Recorder()
    stats = StatsPublisher(rec, {})  # type: ignore[arg-type]
    me = os.getpid()
    bus = Program("bus", "RUNNING", me)
    counters = {"messages_in": 100, "messages_out": 90, "bytes_in": 1000, "bytes_out": 900}
    stats.tick([bus], {"bus": {"pid": me, "uptime": 10.0, **counters}})
    [row] = stats.tick([bus], {"bus": {"pid": me, "uptime": 12.0, "messages_in": 300,
                                       "messages_out": 290, "bytes_in": 3000,
                                       "bytes_out": 2900}})
    assert row["messages_in"] == 300
    assert row["messages_in_per_s"] == 100.0 and row["bytes_out_per_s"] == 1000.0


def test_a_resource_rule_publishes_an_alert_on_the_process_topic() -> None:
    rec = Recorder()
    stats = StatsPublisher(rec, {"loop_lag_ms": 1.0, "loop_lag_seconds": 0.0})  # type: ignore[arg-type]
    me = os.getpid()
    stats.tick([Program("web", "RUNNING", me)], {"web": {"pid": me, "loop_lag_ms": 800.0}})
    alerts = [(t, ty, b) for t, ty, b in rec.sent if t.startswith("alert.")]
    assert len(alerts) == 1
    topic, kind, body = alerts[0]
    assert (topic, kind, body["level"], body["rule"]) == ("alert.web.", "alert", "WARNING",
                                                          "loop_lag")
