"""The resource alert rules, over a fake clock (``now`` is passed to every check)."""

from __future__ import annotations

from ats.stats.rules import Reading, ResourceRules, Thresholds

MB = 1024 * 1024
T = Thresholds(rss_growth_mb=100, rss_warmup_seconds=60, loop_lag_ms=500,
               loop_lag_seconds=10, fd_ratio=0.8)


def rss(mb: float, age: float = 120.0, pid: int = 42) -> Reading:
    return Reading(pid=pid, age=age, rss_bytes=int(mb * MB))


def lag(ms: float, pid: int = 42) -> Reading:
    return Reading(pid=pid, age=120.0, loop_lag_ms=ms)


def test_rss_growth_past_the_threshold_alerts_once_per_step() -> None:
    rules = ResourceRules(T)
    assert rules.check("broker", rss(50, age=10), now=0) == []  # warming up: no baseline
    assert rules.check("broker", rss(200, age=61), now=1) == []  # the baseline
    assert rules.check("broker", rss(299), now=2) == []
    [alert] = rules.check("broker", rss(301), now=3)
    assert alert["level"] == "WARNING" and alert["rule"] == "rss_growth"
    assert alert["process"] == "broker" and alert["pid"] == 42
    assert "grew 101 MB" in alert["message"] and "threshold 100 MB" in alert["message"]
    assert rules.check("broker", rss(350), now=4) == []  # the same step
    [again] = rules.check("broker", rss(402), now=5)  # another 100 MB
    assert again["growth_mb"] == 202.0


def test_a_restarted_process_gets_a_new_baseline() -> None:
    rules = ResourceRules(T)
    rules.check("web", rss(200, age=61), now=0)
    assert rules.check("web", rss(150, age=70, pid=43), now=1) == []  # new pid: new baseline
    assert rules.check("web", rss(240, age=80, pid=43), now=2) == []
    assert rules.check("web", rss(251, age=90, pid=43), now=3) != []


def test_loop_lag_alerts_after_ten_seconds_above_500_ms() -> None:
    rules = ResourceRules(T)
    assert rules.check("s1", lag(600), now=100) == []
    assert rules.check("s1", lag(700), now=105) == []
    assert rules.check("s1", lag(650), now=109.9) == []
    [alert] = rules.check("s1", lag(800), now=110)
    assert alert["rule"] == "loop_lag" and alert["level"] == "WARNING"
    assert alert["seconds"] == 10.0
    assert rules.check("s1", lag(900), now=112) == []  # once per episode
    [back] = rules.check("s1", lag(20), now=114)
    assert back["level"] == "INFO" and "back to 20 ms" in back["message"]
    assert (alert["key"], back["key"]) == ("loop_lag", "loop_lag_recovered")
    assert rules.check("s1", lag(20), now=116) == []


def test_loop_lag_that_dips_under_the_threshold_starts_over() -> None:
    rules = ResourceRules(T)
    rules.check("s1", lag(600), now=0)
    rules.check("s1", lag(400), now=6)  # a good beat in between
    assert rules.check("s1", lag(600), now=12) == []
    assert rules.check("s1", lag(600), now=21) == []
    assert rules.check("s1", lag(600), now=22) != []


def test_one_stall_of_ten_seconds_alerts_at_once() -> None:
    rules = ResourceRules(T)
    [alert] = rules.check("manager", lag(12_000), now=50)
    assert alert["rule"] == "loop_lag" and alert["seconds"] == 12.0


def test_file_descriptors_near_the_limit_alert_until_they_fall_back() -> None:
    rules = ResourceRules(T)

    def fds(n: int) -> Reading:
        return Reading(pid=7, age=5.0, num_fds=n, max_fds=1000)

    assert rules.check("broker", fds(799), now=0) == []
    [alert] = rules.check("broker", fds(800), now=1)
    assert alert["rule"] == "fds" and "800 open file descriptors of its limit 1000" in \
        alert["message"]
    assert rules.check("broker", fds(900), now=2) == []
    assert rules.check("broker", fds(100), now=3) == []
    assert rules.check("broker", fds(850), now=4) != []


def test_thresholds_come_from_the_stats_section() -> None:
    t = Thresholds.from_section({"interval": 2.0, "loop_lag_ms": 250, "fd_ratio": 0.9})
    assert (t.loop_lag_ms, t.fd_ratio, t.rss_growth_mb) == (250.0, 0.9, 256.0)
