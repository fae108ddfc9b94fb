from __future__ import annotations

from ats.cli.top import render
from ats.stats.histogram import Histogram


def test_top_shows_each_process_with_bus_rates_and_round_trip_quantiles() -> None:
    ack = Histogram([0.01, 0.1, 1.0])
    for v in (0.005, 0.05, 0.05, 0.05):
        ack.observe(v)
    rows = [
        {"name": "bus", "state": "RUNNING", "pid": 11, "cpu_percent": 1.5, "rss_mb": 30.2,
         "num_fds": 12, "max_fds": 1024, "threads": 3, "loop_lag_ms": None,
         "messages_in_per_s": 42.0, "messages_out_per_s": 41.0},
        {"name": "s1", "state": "RUNNING", "pid": 12, "cpu_percent": 0.5, "rss_mb": 150.0,
         "num_fds": 40, "max_fds": 1024, "threads": 8, "loop_lag_ms": 2.5,
         "order_latency": {"ack": ack.to_dict()}},
        {"name": "s2", "state": "STOPPED", "pid": 0, "cpu_percent": None, "rss_mb": None,
         "num_fds": None, "max_fds": None, "threads": None, "loop_lag_ms": None},
    ]
    lines = render(rows).splitlines()
    assert lines[0].split()[:3] == ["NAME", "STATE", "PID"]
    bus, s1, s2 = lines[2:]
    assert "12/1024" in bus and "bus 42 msg/s in, 41 out" in bus
    assert "ack p50<=100 p99<=100 ms (n=4)" in s1 and "150.00" in s1
    assert s2.split()[:3] == ["s2", "STOPPED", "-"]
