from __future__ import annotations

from ats.cli.strategies import render_status

NOW = 1_800_000_000.0


def test_status_tables_show_each_process_cpu_and_memory() -> None:
    statuses = [
        {"name": "ltmt", "state": "RUNNING", "pid": 41, "client_id": 12, "uptime": 600,
         "last_heartbeat": NOW - 2, "desired": "running", "trading_state": "ACTIVE",
         "errors_5m": 0, "cpu_percent": 1.5, "rss_mb": 97.25},
        {"name": "vow", "state": "STOPPED", "pid": 0, "client_id": 13, "uptime": 0,
         "desired": "stopped", "cpu_percent": None, "rss_mb": None},
        {"name": "broker", "kind": "process", "state": "RUNNING", "pid": 7, "uptime": 900,
         "last_heartbeat": NOW - 1, "cpu_percent": 3.0, "rss_mb": 120.5},
    ]
    strategies, processes = render_status(statuses, NOW).split("\n\n")
    header, _, ltmt, vow = strategies.splitlines()
    assert "CPU %" in header and "RSS MB" in header
    assert "1.50" in ltmt and "97.25" in ltmt
    assert vow.split()[:3] == ["vow", "STOPPED", "-"]
    p_header, _, broker = processes.splitlines()
    assert "CPU %" in p_header and "RSS MB" in p_header
    assert "3.00" in broker and "120.50" in broker
