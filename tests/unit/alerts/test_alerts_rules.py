"""The triggers: what the bus says, and the alert (level, title) each gives."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ats.alerts.model import Alert, Level
from ats.alerts.rules import Rules, RulesConfig

NOW = 1_800_000_000.0


def rules(**kw: object) -> Rules:
    return Rules(RulesConfig(**kw))  # type: ignore[arg-type]


def one(alerts: list[Alert]) -> Alert:
    assert len(alerts) == 1, alerts
    return alerts[0]


def test_a_crash_loop_is_critical_and_a_recovery_is_info() -> None:
    r = rules()
    assert r.strategy_status("s", {"state": "RUNNING"}, NOW) == []
    a = one(r.strategy_status("s", {"state": "CRASH_LOOP"}, NOW))
    assert (a.level, a.title, a.key) == (Level.CRITICAL, "strategy s CRASH_LOOP",
                                         "state:s:CRASH_LOOP")
    assert "ats-ctl start s" in a.message
    assert r.strategy_status("s", {"state": "CRASH_LOOP"}, NOW) == []  # no change, no alert
    back = one(r.strategy_status("s", {"state": "RUNNING"}, NOW))
    assert (back.level, back.message) == (Level.INFO, "it was CRASH_LOOP")


def test_fatal_is_critical_erroring_and_a_lost_heartbeat_are_warnings() -> None:
    r = rules()
    assert one(r.strategy_status("a", {"state": "FATAL"}, NOW)).level is Level.CRITICAL
    err = one(r.strategy_status("b", {"state": "ERRORING", "errors_5m": 3,
                                      "last_error": "ValueError: bad"}, NOW))
    assert err.level is Level.WARNING and "ValueError: bad" in err.message
    assert "3 errors" in err.message
    lost = one(r.strategy_status("c", {"state": "UNRESPONSIVE"}, NOW))
    assert lost.level is Level.WARNING and "heartbeat lost" in lost.message


def test_a_starting_or_backing_off_strategy_is_not_alerted() -> None:
    r = rules()
    for state in ("STARTING", "BACKOFF", "RUNNING", "STOPPED"):
        assert r.strategy_status("s", {"state": state}, NOW) == []


def test_a_process_that_stops_running_or_beating_is_critical() -> None:
    r = rules(heartbeat_timeout=3.0)
    rows = [{"kind": "process", "name": "broker", "state": "RUNNING", "last_heartbeat": NOW},
            {"kind": "process", "name": "web", "state": "RUNNING", "last_heartbeat": None}]
    assert r.process_rows(rows, NOW) == []
    rows[0]["last_heartbeat"] = NOW - 60
    rows[1]["state"] = "FATAL"
    alerts = r.process_rows(rows, NOW)
    assert [(a.level, a.title) for a in alerts] == [
        (Level.CRITICAL, "process broker UNRESPONSIVE"), (Level.CRITICAL, "process web FATAL")]
    rows[0]["last_heartbeat"] = NOW
    assert one(r.process_rows(rows[:1], NOW)).level is Level.INFO


def test_the_simulator_against_a_real_gateway_is_not_a_process_down() -> None:
    r = rules()
    row = {"kind": "process", "name": "gateway-sim", "state": "STOPPED",
           "venue": "not used: the venue is h:4002"}
    assert r.process_rows([row], NOW) == []


def test_venue_codes_are_alerted_with_their_own_level() -> None:
    r = rules()
    assert one(r.venue({"state": "lost", "code": 1100}, NOW)).level is Level.WARNING
    assert one(r.venue({"state": "connected", "code": 1101}, NOW)).level is Level.WARNING
    assert one(r.venue({"state": "connected", "code": 1102}, NOW)).level is Level.INFO


def test_a_disconnect_longer_than_n_seconds_is_critical_once_then_reconnected_is_info() -> None:
    r = rules(disconnect_seconds=30.0)
    assert r.venue({"state": "disconnected"}, NOW) == []
    assert r.venue_tick(NOW + 29) == []
    down = one(r.venue_tick(NOW + 31))
    assert (down.level, down.title) == (Level.CRITICAL, "venue disconnected")
    assert r.venue_tick(NOW + 60) == []
    back = one(r.venue({"state": "connected"}, NOW + 61))
    assert back.level is Level.INFO and "61 s" in back.message


def test_a_short_disconnect_is_not_alerted() -> None:
    r = rules(disconnect_seconds=30.0)
    r.venue({"state": "disconnected"}, NOW)
    assert r.venue({"state": "connected"}, NOW + 5) == []
    assert r.venue_tick(NOW + 40) == []


def test_each_venue_is_timed_and_named_on_its_own() -> None:
    r = rules(disconnect_seconds=30.0)
    r.venue({"state": "disconnected"}, NOW, "broker-second")
    r.venue({"state": "disconnected"}, NOW + 20)
    down = one(r.venue_tick(NOW + 31))
    assert (down.title, down.source) == ("venue second disconnected", "broker-second")
    back = one(r.venue({"state": "connected"}, NOW + 40, "broker-second"))
    assert back.title == "venue second reconnected"
    assert one(r.venue_tick(NOW + 51)).title == "venue disconnected"


def test_a_reconciliation_break_is_critical_and_its_resolution_info() -> None:
    r = rules()
    brk = one(r.reconcile("break", {"con_id": 7, "ledger": 10, "account": 12}, NOW))
    assert (brk.level, brk.title) == (Level.CRITICAL, "reconciliation break on conId 7")
    assert one(r.reconcile("resolved", {"con_id": 7}, NOW)).level is Level.INFO


def test_a_burst_of_risk_refusals_is_one_warning_per_window() -> None:
    r = rules(refusal_burst=3, refusal_window_seconds=60.0)
    body = {"reason": "max_order_qty: 150 > limit 100 (strategy s)"}
    assert r.refusal("s", body, NOW) == [] and r.refusal("s", body, NOW + 1) == []
    a = one(r.refusal("s", body, NOW + 2))
    assert a.level is Level.WARNING and "max_order_qty" in a.message
    assert a.title == "3 orders of s refused by risk"
    assert r.refusal("s", body, NOW + 3) == []  # the same window
    assert r.refusal("other", body, NOW + 3) == []  # counted per strategy


def test_refusals_spread_wider_than_the_window_are_not_a_burst() -> None:
    r = rules(refusal_burst=3, refusal_window_seconds=10.0)
    assert all(r.refusal("s", {}, NOW + 20 * i) == [] for i in range(5))


def test_a_halt_says_by_whom_and_an_account_halt_is_critical() -> None:
    r = rules()
    halt = one(r.trading_state("s", {"state": "HALTED", "reason": "operator halt",
                                     "by": "cli:alice"}, NOW))
    assert (halt.level, halt.title) == (Level.WARNING, "strategy s HALTED by cli:alice")
    everything = one(r.trading_state("all", {"state": "HALTED", "by": "web:session:ab"}, NOW))
    assert (everything.level, everything.title) == (Level.CRITICAL,
                                                    "all trading HALTED by web:session:ab")
    resume = one(r.trading_state("s", {"state": "ACTIVE", "by": "cli:alice"}, NOW))
    assert (resume.level, resume.title) == (Level.INFO, "strategy s resumed by cli:alice")


def test_a_halt_without_an_actor_says_unknown() -> None:
    assert one(rules().trading_state("s", {"state": "HALTED"}, NOW)).title == \
        "strategy s HALTED by unknown"


def test_bus_alerts_are_forwarded_with_their_level() -> None:
    r = rules()
    host = one(r.forwarded("s", {"level": "CRITICAL", "strategy": "s", "halted": True,
                                 "message": "20 strategy errors within 5 minutes"}, NOW))
    assert host.level is Level.CRITICAL and host.title.startswith("s: strategy s halted itself")
    disk = one(r.forwarded("broker", {"level": "INFO", "message": "disk LOW -> OK"}, NOW))
    assert (disk.level, disk.title) == (Level.INFO, "broker: disk LOW -> OK")
    assert one(r.forwarded("x", {"level": "ERROR", "message": "m"}, NOW)).level is \
        Level.CRITICAL


def test_the_brokers_reconciliation_alert_is_not_raised_twice() -> None:
    assert rules().forwarded("broker", {"level": "ERROR", "message": "reconciliation break "
                                        "on conId 7: ledger 1 vs account 2"}, NOW) == []


def test_a_drawdown_past_the_strategys_threshold_is_a_warning_once_until_it_recovers() -> None:
    r = rules(max_drawdown=0.10, max_drawdown_by_strategy={"s": 0.05})
    r.account_value("NetLiquidation", "1000000", NOW)
    r.weights = {"s": 0.1, "t": 0.1}  # capital 100,000 each
    assert r.pnl_row("s", {"equity": 10_000.0}, NOW) == []
    assert r.pnl_row("s", {"equity": 6_000.0}, NOW) == []  # 4% of its capital
    a = one(r.pnl_row("s", {"equity": 4_000.0}, NOW))  # 6% > its own 5%
    assert (a.level, a.title) == (Level.WARNING, "strategy s drawdown 6.0% past 5.0%")
    assert r.pnl_row("s", {"equity": 3_000.0}, NOW) == []  # alerted already
    assert r.pnl_row("s", {"equity": 9_000.0}, NOW) == []  # 1%: re-armed
    assert one(r.pnl_row("s", {"equity": 3_000.0}, NOW)).key == "drawdown:s"
    assert r.pnl_row("t", {"equity": 0.0}, NOW) == []
    assert r.pnl_row("t", {"equity": -6_000.0}, NOW) == []  # 6% < the default 10%


def test_an_account_drawdown_is_measured_from_its_peak() -> None:
    r = rules(max_drawdown=0.10)
    assert r.account_value("NetLiquidation", "1000000", NOW) == []
    assert r.account_value("NetLiquidation", "950000", NOW) == []
    a = one(r.account_value("NetLiquidation", "890000", NOW))
    assert a.title == "the account drawdown 11.0% past 10.0%"


def _at(local: str) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("America/New_York")).timestamp()


def test_the_daily_summary_is_due_once_after_the_close_on_weekdays() -> None:
    r = rules(summary_time="16:15")
    assert r.summary_due(_at("2026-12-02 16:14")) == ""  # a Wednesday, before
    day = r.summary_due(_at("2026-12-02 16:20"))
    assert day == "2026-12-02"
    r.pnl_row("s", {"equity": 500.0, "realized_pnl": 400.0, "unrealized_pnl": 100.0}, NOW)
    r.account_value("NetLiquidation", "1000500", NOW)
    a = one(r.summary(day, NOW))
    assert (a.level, a.title) == (Level.INFO, "daily summary 2026-12-02")
    assert "s" in a.message and "400.00" in a.message and "NetLiquidation 1,000,500.00" in \
        a.message
    assert r.summary_due(_at("2026-12-02 18:00")) == ""  # done today
    assert r.summary_due(_at("2026-12-05 17:00")) == ""  # a Saturday


def test_the_daily_summary_gives_todays_change_since_the_last_one() -> None:
    r = rules()
    r.pnl_row("s", {"equity": 500.0}, NOW)
    r.summary("2026-12-01", NOW)
    r.pnl_row("s", {"equity": 650.0}, NOW)
    line = next(x for x in one(r.summary("2026-12-02", NOW)).message.splitlines()
                if x.startswith("s "))
    assert line.split()[1] == "150.00"


def test_no_daily_summary_when_its_time_is_empty() -> None:
    assert rules(summary_time="").summary_due(_at("2026-12-02 17:00")) == ""


def test_a_process_coming_up_is_not_alerted() -> None:
    r = rules()
    row = {"kind": "process", "name": "web", "state": "STARTING"}
    assert r.process_rows([row], NOW) == []
    assert r.process_rows([{**row, "state": "RUNNING"}], NOW) == []


def test_a_bus_alert_that_names_its_key_folds_with_repeats_of_other_figures() -> None:
    r = rules()
    a = one(r.forwarded("broker", {"level": "WARNING", "key": "rss", "message": "RSS 500 MB"},
                        NOW))
    b = one(r.forwarded("broker", {"level": "WARNING", "key": "rss", "message": "RSS 600 MB"},
                        NOW))
    assert a.key == b.key == "bus:broker:rss"


def test_the_accounts_drawdown_is_of_the_venues_summed_not_of_one_venue_against_another() -> None:
    r = rules(max_drawdown=0.1)
    assert r.account_value("NetLiquidation", "1000000", NOW) == []
    assert r.account_value("NetLiquidation", "300000", NOW, "second") == []
    assert r.account_value("NetLiquidation", "1000000", NOW + 1) == []
    assert r.account["NetLiquidation"] == 1_300_000
    fall = one(r.account_value("NetLiquidation", "150000", NOW + 2, "second"))
    assert fall.level is Level.WARNING

