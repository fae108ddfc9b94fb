"""Triggers: what the bus says, turned into alerts with a severity. Pure: every input comes in
as an argument with the time, every output is a list of alerts; nothing here does I/O.

| trigger | from | level |
|---|---|---|
| a strategy CRASH_LOOP or FATAL | the manager's statuses | CRITICAL |
| a strategy ERRORING, UNRESPONSIVE (heartbeat lost) | the manager's statuses | WARNING |
| a system process not RUNNING, or its heartbeat lost | the manager's `status` | CRITICAL |
| back to RUNNING after one of those | the same | INFO |
| venue 1100 / 1101 / 1102 | the broker's connection events | WARNING / WARNING / INFO |
| venue down longer than ``disconnect_seconds`` | the broker's connection events | CRITICAL |
| a reconciliation break; it resolved | the broker's reconcile events | CRITICAL; INFO |
| ``refusal_burst`` risk refusals within ``refusal_window_seconds`` | risk.<name> | WARNING |
| a halt, and by whom | risk.<name> (risk.all: the account) | WARNING (account: CRITICAL) |
| a resume, and by whom | risk.<name> | INFO |
| a drawdown past ``max_drawdown`` (or the strategy's own) | the broker's P&L, account | WARNING |
| the daily summary after ``summary_time`` | P&L per strategy and the account | INFO |
| any alert already on the bus (alert.<source>) | its own level | ERROR is CRITICAL |
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ats.alerts.model import Alert, Level

#: strategy states worth an alert, with their level and what they mean
STRATEGY_STATES: dict[str, tuple[Level, str]] = {
    "CRASH_LOOP": (Level.CRITICAL, "in crash loop: stopped after repeated crashes; "
                                   "`ats-ctl start {name}` once fixed"),
    "FATAL": (Level.CRITICAL, "FATAL: supervisord could not start it"),
    "ERRORING": (Level.WARNING, "ERRORING: its handlers raise"),
    "UNRESPONSIVE": (Level.WARNING, "UNRESPONSIVE: heartbeat lost"),
}
#: process states on the way up, not alerted (nor is RUNNING after them)
QUIET_PROCESS_STATES = ("STARTING",)
#: venue codes of the broker's connection events
VENUE_CODES: dict[int, tuple[Level, str]] = {
    1100: (Level.WARNING, "venue connectivity lost (1100)"),
    1101: (Level.WARNING, "venue connectivity restored, data lost (1101): market data "
                          "resubscribed"),
    1102: (Level.INFO, "venue connectivity restored, data kept (1102)"),
}
#: broker alerts that a rule here already raises (kept off the forwarded ones)
COVERED_PREFIXES = ("reconciliation break",)


def _venue_names(process: str) -> tuple[str, str, str]:
    """A broker desk's venue ("" for the first, "broker"), how alerts name it, and the prefix
    of their keys: ("second", "venue second", "venue:second:") for "broker-second"."""
    venue = process.removeprefix("broker").removeprefix("-")
    return (venue, f"venue {venue}", f"venue:{venue}:") if venue else ("", "venue", "venue:")


@dataclass(frozen=True)
class RulesConfig:
    disconnect_seconds: float = 30.0
    refusal_burst: int = 10
    refusal_window_seconds: float = 60.0
    max_drawdown: float = 0.1
    max_drawdown_by_strategy: Mapping[str, float] = field(default_factory=dict)
    summary_time: str = "16:15"  #: local time of the daily summary ("" for none)
    summary_tz: str = "America/New_York"
    heartbeat_timeout: float = 3.0
    report_url: str = ""  #: the web console's performance page, named in the daily summary

    @classmethod
    def from_section(cls, a: Mapping[str, Any], heartbeat_timeout: float,
                     report_url: str = "") -> RulesConfig:
        return cls(float(a["disconnect_seconds"]), int(a["refusal_burst"]),
                   float(a["refusal_window_seconds"]), float(a["max_drawdown"]),
                   {str(k): float(v) for k, v in dict(a["max_drawdown_by_strategy"]).items()},
                   str(a["summary_time"]), str(a["summary_tz"]), heartbeat_timeout, report_url)

    def drawdown_limit(self, strategy: str) -> float:
        return float(self.max_drawdown_by_strategy.get(strategy, self.max_drawdown))


def _money(x: float) -> str:
    return f"{x:,.2f}"


class Rules:
    def __init__(self, config: RulesConfig) -> None:
        self.config = config
        self.states: dict[str, str] = {}  #: strategy -> its last state
        self.process_states: dict[str, str] = {}  #: process -> its last state
        #: broker desk process -> when its venue went down
        self.venue_down_since: dict[str, float] = {}
        self.venue_alerted: set[str] = set()  #: desks whose long disconnect was alerted
        self.refusals: dict[str, deque[float]] = {}  #: strategy -> recent refusal times
        self.refusals_alerted: dict[str, float] = {}  #: strategy -> when a burst was alerted
        self.peaks: dict[str, float] = {}  #: strategy (or "account") -> highest equity seen
        self.drawdown_alerted: set[str] = set()
        self.weights: dict[str, float] = {}  #: strategy -> target weight of the account
        self.pnl: dict[str, dict[str, Any]] = {}  #: strategy -> its latest P&L row
        self.account: dict[str, float] = {}  #: NetLiquidation, RealizedPnL, UnrealizedPnL
        #: (venue, tag) -> value: `account` sums them, each venue's once
        self.by_venue: dict[tuple[str, str], float] = {}
        self.summary_done: str = ""  #: the date of the last daily summary
        self.summary_equity: dict[str, float] = {}  #: strategy -> equity at the last summary

    # -- what survives a restart -------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What a restart must not forget: the last summary, and the drawdown peaks (a peak
        forgotten would measure a drawdown from the equity at restart, hiding the loss)."""
        return {"date": self.summary_done, "equity": self.summary_equity,
                "peaks": self.peaks, "drawdown_alerted": sorted(self.drawdown_alerted)}

    def restore(self, data: Mapping[str, Any]) -> None:
        self.summary_done = str(data.get("date", ""))
        self.summary_equity = {str(k): float(v) for k, v in dict(data.get("equity", {})).items()}
        self.peaks = {str(k): float(v) for k, v in dict(data.get("peaks", {})).items()}
        self.drawdown_alerted = {str(n) for n in data.get("drawdown_alerted", [])}

    # -- strategies and processes ------------------------------------------------------------

    def strategy_status(self, name: str, status: Mapping[str, Any] | None,
                        now: float) -> list[Alert]:
        """A strategy's status row changed (None: removed from the registry)."""
        old = self.states.get(name)
        if status is None:
            self.states.pop(name, None)
            return []
        state = str(status.get("state", ""))
        self.states[name] = state
        if state == old:
            return []
        if state in STRATEGY_STATES:
            level, what = STRATEGY_STATES[state]
            msg = what.format(name=name)
            if state == "ERRORING" and status.get("last_error"):
                msg += f"; last error: {status['last_error']}"
            if status.get("errors_5m"):
                msg += f" ({status['errors_5m']} errors in 5 minutes)"
            return [Alert.make(level, f"state:{name}:{state}", f"strategy {name} {state}", msg,
                               source=name, ts=now)]
        if state == "RUNNING" and old in STRATEGY_STATES:
            return [Alert.make(Level.INFO, f"state:{name}:RUNNING",
                               f"strategy {name} RUNNING again", f"it was {old}", source=name,
                               ts=now)]
        return []

    def process_rows(self, rows: list[Mapping[str, Any]], now: float) -> list[Alert]:
        """The system's processes from the manager's `status` (rows of kind "process")."""
        out = []
        for row in rows:
            if row.get("kind") != "process":
                continue
            name, state = str(row.get("name")), str(row.get("state"))
            if str(row.get("venue") or "").startswith("not used"):
                continue  # the simulator against a real gateway
            beat = row.get("last_heartbeat")
            if state == "RUNNING" and beat is not None and \
                    now - float(beat) > 3 * self.config.heartbeat_timeout:
                state = "UNRESPONSIVE"
            old = self.process_states.get(name)
            self.process_states[name] = state
            if state == old or state in QUIET_PROCESS_STATES or \
                    (state == "RUNNING" and old in (None, *QUIET_PROCESS_STATES)):
                continue
            if state != "RUNNING":
                what = "heartbeat lost" if state == "UNRESPONSIVE" else f"supervisord: {state}"
                out.append(Alert.make(Level.CRITICAL, f"process:{name}:{state}",
                                      f"process {name} {state}", f"{what} (ats-ctl logs {name})",
                                      source=name, ts=now))
            elif old is not None:
                out.append(Alert.make(Level.INFO, f"process:{name}:RUNNING",
                                      f"process {name} RUNNING again", f"it was {old}",
                                      source=name, ts=now))
        return out

    def manager_unreachable(self, error: str, now: float) -> list[Alert]:
        return [Alert.make(Level.CRITICAL, "process:manager:unreachable",
                           "the manager does not answer", error, source="manager", ts=now)]

    # -- the venue ---------------------------------------------------------------------------

    def venue(self, body: Mapping[str, Any], now: float,
              process: str = "broker") -> list[Alert]:
        """A broker desk's connection.<process> "venue" event: state lost / disconnected /
        connected, with the IB code when there is one. The first venue's desk is "broker",
        a further one's "broker-NAME"; each is timed on its own."""
        state, code = str(body.get("state")), body.get("code")
        venue, what, key = _venue_names(process)
        out = []
        if isinstance(code, int) and code in VENUE_CODES:
            level, title = VENUE_CODES[code]
            out.append(Alert.make(level, f"{key}{code}", f"{title} ({what})" if venue else title,
                                  source=process, ts=now))
        since = self.venue_down_since.get(process)
        if state in ("lost", "disconnected"):
            if since is None:
                self.venue_down_since[process] = now
                self.venue_alerted.discard(process)
        elif state == "connected" and since is not None:
            if process in self.venue_alerted:
                out.append(Alert.make(Level.INFO, f"{key}reconnected", f"{what} reconnected",
                                      f"after {now - since:.0f} s down", source=process,
                                      ts=now))
            del self.venue_down_since[process]
            self.venue_alerted.discard(process)
        return out

    def venue_tick(self, now: float) -> list[Alert]:
        out = []
        for process, since in self.venue_down_since.items():
            if process in self.venue_alerted or now - since < self.config.disconnect_seconds:
                continue
            self.venue_alerted.add(process)
            _, what, key = _venue_names(process)
            out.append(Alert.make(Level.CRITICAL, f"{key}down", f"{what} disconnected",
                                  f"the broker has been disconnected from the {what} for "
                                  f"{now - since:.0f} s (> {self.config.disconnect_seconds:g} "
                                  "s); orders are refused", source=process, ts=now))
        return out

    # -- the broker's events -----------------------------------------------------------------

    def reconcile(self, type_: str, body: Mapping[str, Any], now: float) -> list[Alert]:
        con_id = body.get("con_id")
        if type_ == "break":
            return [Alert.make(Level.CRITICAL, f"reconcile:{con_id}",
                               f"reconciliation break on conId {con_id}",
                               f"ledger {body.get('ledger')} vs account {body.get('account')}: "
                               "that instrument is REDUCING", source="broker", ts=now)]
        if type_ == "resolved":
            return [Alert.make(Level.INFO, f"reconcile:{con_id}:resolved",
                               f"reconciliation break on conId {con_id} resolved",
                               source="broker", ts=now)]
        return []

    def refusal(self, strategy: str, body: Mapping[str, Any], now: float) -> list[Alert]:
        """A risk refusal of one of `strategy`'s orders; a burst of them is alerted once per
        window."""
        c = self.config
        times = self.refusals.setdefault(strategy, deque())
        times.append(now)
        while times and now - times[0] > c.refusal_window_seconds:
            times.popleft()
        last = self.refusals_alerted.get(strategy)
        if len(times) < c.refusal_burst or (last is not None and
                                            now - last < c.refusal_window_seconds):
            return []
        self.refusals_alerted[strategy] = now
        return [Alert.make(Level.WARNING, f"refusals:{strategy}",
                           f"{len(times)} orders of {strategy} refused by risk",
                           f"within {c.refusal_window_seconds:g} s; last: "
                           f"{body.get('reason') or body.get('limit') or '?'}",
                           source=strategy, ts=now)]

    def trading_state(self, name: str, body: Mapping[str, Any], now: float) -> list[Alert]:
        """risk.<name> "trading_state": a halt or a resume (name "all": the account)."""
        state, by = str(body.get("state")), str(body.get("by") or "unknown")
        who = "all trading" if name == "all" else f"strategy {name}"
        reason = str(body.get("reason") or "")
        if state == "HALTED":
            level = Level.CRITICAL if name == "all" else Level.WARNING
            return [Alert.make(level, f"halt:{name}", f"{who} HALTED by {by}",
                               f"{reason} (by {by})", source=name, ts=now)]
        if state == "ACTIVE":
            return [Alert.make(Level.INFO, f"resume:{name}", f"{who} resumed by {by}",
                               f"{reason} (by {by})", source=name, ts=now)]
        return []

    def forwarded(self, source: str, body: Mapping[str, Any], now: float) -> list[Alert]:
        """An alert another process put on the bus (alert.<source>)."""
        message = str(body.get("message") or "")
        if source.startswith("broker") and message.startswith(COVERED_PREFIXES):
            return []
        title = message.splitlines()[0] if message else "alert"
        title = title if len(title) <= 120 else title[:117] + "..."
        if body.get("strategy") and body.get("halted"):
            title = f"strategy {source} halted itself: {title}"
        # a publisher may name what its alert is about ("key"), so that repeats with other
        # figures in their text fold together; else the title's start is the key
        key = str(body.get("key") or title[:60])
        return [Alert.make(Level.parse(body.get("level")), f"bus:{source}:{key}",
                           f"{source}: {title}", message, source=source, ts=now)]

    # -- P&L: drawdown and the daily summary --------------------------------------------------

    def pnl_row(self, strategy: str, row: Mapping[str, Any] | None, now: float) -> list[Alert]:
        if row is None:
            self.pnl.pop(strategy, None)
            return []
        self.pnl[strategy] = dict(row)
        equity = float(row.get("equity") or 0.0)
        capital = self.weights.get(strategy, 0.0) * self.account.get("NetLiquidation", 0.0)
        if capital <= 0:
            capital = self.account.get("NetLiquidation", 0.0)
        return self._drawdown(strategy, equity, capital, now)

    def account_value(self, tag: str, value: object, now: float,
                      venue: str = "") -> list[Alert]:
        """One venue's account value; the account's is the sum over the venues."""
        try:
            number = float(str(value))
        except ValueError:
            return []
        self.by_venue[(venue, tag)] = number
        total = self.account[tag] = sum(v for (_, t), v in self.by_venue.items() if t == tag)
        if tag != "NetLiquidation":
            return []
        return self._drawdown("account", total, max(self.peaks.get("account", total), 0.0),
                              now)

    def _drawdown(self, name: str, equity: float, capital: float, now: float) -> list[Alert]:
        """A drawdown is the fall from the highest equity seen, as a fraction of the capital
        (the strategy's target weight of the account's net liquidation; the account's own
        peak for the account)."""
        peak = self.peaks[name] = max(self.peaks.get(name, equity), equity)
        if capital <= 0:
            return []
        dd, limit = (peak - equity) / capital, self.config.drawdown_limit(name)
        if dd < limit / 2:
            self.drawdown_alerted.discard(name)
        if dd < limit or name in self.drawdown_alerted:
            return []
        self.drawdown_alerted.add(name)
        who = "the account" if name == "account" else f"strategy {name}"
        return [Alert.make(Level.WARNING, f"drawdown:{name}",
                           f"{who} drawdown {dd:.1%} past {limit:.1%}",
                           f"equity {_money(equity)} from a peak of {_money(peak)} "
                           f"(capital {_money(capital)})", source=name, ts=now)]

    def summary_due(self, now: float) -> str:
        """The date of a daily summary due now (a weekday past summary_time), or ""."""
        c = self.config
        if not c.summary_time:
            return ""
        local = dt.datetime.fromtimestamp(now, ZoneInfo(c.summary_tz))
        hh, mm = (int(x) for x in c.summary_time.split(":"))
        day = local.date().isoformat()
        if local.weekday() >= 5 or (local.hour, local.minute) < (hh, mm) or \
                self.summary_done == day:
            return ""
        return day

    def summary(self, day: str, now: float) -> list[Alert]:
        """The daily summary: P&L per strategy (today's change since the last summary when
        there was one) and the account's figures."""
        lines = [f"{'strategy':<18}{'today':>14}{'realized':>14}{'unrealized':>14}"
                 f"{'equity':>14}"]
        total_today = 0.0
        for name in sorted(self.pnl):
            row = self.pnl[name]
            equity = float(row.get("equity") or 0.0)
            today = equity - self.summary_equity.get(name, equity)
            total_today += today
            lines.append(f"{name:<18}{_money(today):>14}"
                         f"{_money(float(row.get('realized_pnl') or 0.0)):>14}"
                         f"{_money(float(row.get('unrealized_pnl') or 0.0)):>14}"
                         f"{_money(equity):>14}")
        lines.append(f"{'TOTAL':<18}{_money(total_today):>14}")
        acct = ", ".join(f"{k} {_money(v)}" for k, v in sorted(self.account.items()))
        lines.append(f"account: {acct or 'no figures from the venue'}")
        lines.append("full report: " + (f"{self.config.report_url} or " if self.config.report_url
                                        else "") + "`ats-ctl report --out DIR`")
        self.summary_done = day
        self.summary_equity = {n: float(r.get("equity") or 0.0) for n, r in self.pnl.items()}
        return [Alert.make(Level.INFO, f"summary:{day}", f"daily summary {day}",
                           "\n".join(lines), source="alerts", ts=now)]
