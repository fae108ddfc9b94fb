"""Issue 6 system proof: the ten strategies together, live on the simulator, over three sessions.

The system (hub, broker, manager, simulator, ten strategy hosts) runs under real supervisord
with the simulator on a stepped clock (tests/system/steppedkit.py), from Monday 2026-08-31
00:00 UTC to Wednesday 2026-09-02 after the close: the test advances the venue's time to each
decision instant of any strategy and waits until every host has handled it, so what they decide
does not depend on how loaded the machine is. Monday 2026-08-31 is the first session of its week
and the last session of August, so the weekly rule (cnr), the month-end rules (ltmt, sie) and
every daily rule fire on the first session, whose decisions use only warm-up history. The test
recomputes those first-session decisions independently, from the simulator's deterministic
market model (the bars reqHistoricalData serves) and the strategies' own pure signal functions,
and checks each strategy filled exactly the (symbol, side) pairs they imply.

Every host is also killed with kill -9 once while it holds a position: vow at its first fill
(mid-session, its exit still to come), the nine daily strategies on Tuesday before the open
(holding what the first session bought or sold). Each must come back in a new process with its
saved state and the book it held, and go on managing the position: vow exits it the same
session by its own rule, and no daily strategy enters again what it already holds.

Parameters differ from the defaults only where the defaults would not trade in three sessions
of this synthetic market, or to spread the decision times (see SEED).
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest
from steppedkit import BusWatch, advance_through, decision_instants
from systemkit import System, make_home, tear_down, wait_for

from ats.host.feed import BarAggregator
from ats.orders import ref as orderref
from ats.sdk import Future
from ats.sdk.indicators import pct_return, rsi, sma
from ats.sdk.params import Params
from ats.sim.admin import AdminClient
from ats.sim.market import Market
from ats.sim.universe import Universe
from strategies import cnr, ltmt, pea_oss, s2, short_rsi_thrust, short_vix, sie, smag7, svix, vow

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

SIM_SEED = 1
# From Monday 00:00 UTC the venue's daily history ends with Monday's forming bar, which the
# host drops during warm-up. Started on Sunday, the host would drop Friday's complete bar.
START = pd.Timestamp("2026-08-31T00:00:00Z")  #: Monday, before the first session
FIRST_DECISION = pd.Timestamp("2026-08-31T18:30:00Z")  #: cnr, the earliest (see SEED)
FIRST_SESSION_END = pd.Timestamp("2026-09-01T04:00:00Z")  #: fills before this: session 1
END = pd.Timestamp("2026-09-02T20:20:00Z")  #: after Wednesday's close and its late fills
KILL_DAILY_AT = pd.Timestamp("2026-09-01T06:00:00Z")  #: Tuesday, long before its decisions

# The universes are subsets of the defaults (31 subscriptions, not 56), and minutes_before_close
# is staggered (5 to 55 sim minutes apart): the test once ran the simulator at 1000 x real
# time, where the full universes left the hosts behind the venue's clock and simultaneous
# decisions starved the broker's risk check. The expectations below are tuned to these.
SECTORS5 = ["XLK", "XLE", "XLV", "XLU", "XLRE"]
SEED: list[dict[str, Any]] = [
    {"name": "ltmt", "params": {"minutes_before_close": 110}},
    # The 60-day z-score of the synthetic put/call ratio on 2026-08-31 is neither fear (>= 1.0)
    # nor complacency; tuned() sets fear_z below it, so that reading is "fear": long SPY.
    {"name": "pea_oss", "params": {"window": 60, "smooth": 5, "minutes_before_close": 85}},
    # KO/PEP's 20-day spread z-score on 2026-08-31 is below the default entry (60-day: 0.00);
    # tuned() sets entry_z below it.
    {"name": "s2", "params": {"window": 20, "minutes_before_close": 90}},
    {"name": "svix", "params": {"minutes_before_close": 80}},
    # No default name thrusts below its 200-day trend here; MSFT's RSI(3) 93 is below its
    # 50-day average.
    {"name": "short_rsi_thrust", "params": {"symbols": ["MSFT", "AAPL", "PEP"],
                                            "trend_days": 50, "minutes_before_close": 95}},
    # The synthetic VIX (15.7) is below SPX's 21-day realized vol (23) on these dates, so the
    # premium threshold is lowered to let the contango/roll-yield logic choose a contract.
    {"name": "short_vix", "params": {"min_vrp": -10.0, "chain_size": 2,
                                     "minutes_before_close": 115}},
    # Weekly at the open + 300 min (18:30 UTC) rather than + 30: the earliest decision of the
    # run, it leaves the hosts 18.5 sim hours (66 s of wall time) to start.
    {"name": "cnr", "params": {"symbols": SECTORS5, "n_long": 2, "n_short": 2,
                               "offset_minutes": 300}},
    {"name": "sie", "params": {"symbols": SECTORS5, "minutes_before_close": 105}},
    {"name": "smag7", "params": {"symbols": ["AAPL", "MSFT", "AMZN", "NVDA"],
                                 "minutes_before_close": 100}},
    # The simulator's intraday volume is flat through the session, so a volume-confirmed bar
    # only occurs in the first hour; SPY rarely strays 0.4% from VWAP then, TSLA/NVDA do.
    {"name": "vow", "params": {"symbols": ["TSLA", "NVDA"], "dev_pct": 0.002}},
]
NAMES = [str(s["name"]) for s in SEED]
CLASSES: dict[str, Any] = {
    "ltmt": ltmt.Ltmt, "pea_oss": pea_oss.PeaOss, "s2": s2.S2, "svix": svix.Svix,
    "short_rsi_thrust": short_rsi_thrust.ShortRsiThrust, "cnr": cnr.Cnr, "sie": sie.Sie,
    "smag7": smag7.Smag7, "vow": vow.Vow, "short_vix": short_vix.ShortVix,
}

Pair = tuple[str, str]  #: (symbol, "BOT" | "SLD")


@dataclass
class Kill:
    pid: int  #: the process killed
    sim_time: pd.Timestamp
    held: dict[str, float]  #: symbol -> the strategy's position at the broker when killed
    log_offset: int  #: where its log stood: what follows is the new process's


@dataclass
class Run:
    system: System
    wall_seconds: float = 0.0
    status_checks: list[dict[str, tuple[str, int]]] = field(default_factory=list)
    kills: dict[str, Kill] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    reconcile_rc: int = -1
    steps: int = 0


def base_params(name: str) -> Params:
    entry = next(s for s in SEED if s["name"] == name)
    p: Params = CLASSES[name].params_type.from_mapping(entry.get("params", {}))
    return p


@functools.cache
def tuned() -> dict[str, dict[str, Any]]:
    """Thresholds set from the first session's own readings, with a wide margin (0.2 and 0.5
    z-score), so each signal fires whatever small difference separates the host's view of the
    data from this test's. The expectations below are then computed from the same data."""
    h = History()
    pea: Any = base_params("pea_oss")
    pcr = h.arr(pea.pcr_symbol, lookback("pea_oss", pea.pcr_symbol, pea))
    reading = pea_oss.pcr_oscillator(pcr, pea.smooth, pea.window)
    p2: Any = base_params("s2")
    n = lookback("s2", p2.symbol_a, p2)
    _, z = s2.s2_signal(h.arr(p2.symbol_a, n), h.arr(p2.symbol_b, n), p2.window)
    assert p2.exit_z + 0.2 < abs(z) - 0.5 and pea.complacent_z + 0.2 < reading - 0.2, (z, reading)
    return {"pea_oss": {"fear_z": round(reading - 0.2, 4)},
            "s2": {"entry_z": round(abs(z) - 0.5, 4)}}


def seed() -> list[dict[str, Any]]:
    return [{**e, "params": {**e.get("params", {}), **tuned().get(str(e["name"]), {})}}
            for e in SEED]


def params_of(name: str) -> Params:
    entry = next(s for s in seed() if s["name"] == name)
    p: Params = CLASSES[name].params_type.from_mapping(entry.get("params", {}))
    return p


def sim_time(admin: AdminClient) -> pd.Timestamp:
    return pd.Timestamp(admin.call("status")["sim_time"])


def held_by(system: System, name: str) -> dict[str, float]:
    return {str(r["symbol"]): float(r["position"]) for r in system.json("positions")
            if r["strategy"] == name and r["position"]}


def kill(system: System, admin: AdminClient, watch: BusWatch, name: str) -> Kill:
    program = f"strategy-{name}"
    k = Kill(system.pid_of(program), sim_time(admin), held_by(system, name),
             len(system.log(program)))
    watch.killed(k.pid)
    os.kill(k.pid, signal.SIGKILL)
    return k


SETTINGS: dict[str, Any] = {
    "sim": {"clock": "stepped", "seed": SIM_SEED, "start": START.strftime("%Y-%m-%dT%H:%M:%SZ")},
    "broker": {"reconcile_seconds": 5.0, "equity_sample_seconds": 5.0}}


def instants() -> list[pd.Timestamp]:
    """Each strategy's decision instants, and KILL_DAILY_AT."""
    steps = decision_instants(((CLASSES[n], n, params_of(n)) for n in NAMES), START, END)
    return sorted({*steps, KILL_DAILY_AT})


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    home = make_home(seed(), SETTINGS)
    system = System(home)
    result = Run(system)
    t0 = time.monotonic()
    try:
        system.ctl("up", "--timeout", "300", timeout=330)  # ten hosts warm up on 2 cores
        wait_for(lambda: system.all_running(NAMES), 120, "ten strategies RUNNING")
        wait_for(lambda: all(f"strategy {n} running" in system.log(f"strategy-{n}")
                             for n in NAMES), 180, "ten strategies warmed up")
        cfg = system.cfg()
        admin = AdminClient(str(cfg.venue["host"]), int(cfg.section("sim")["admin_port"]),
                            timeout=300)  # an advance returns once its bars are sent
        watch = BusWatch(system, NAMES)

        def killing(at: pd.Timestamp) -> None:
            """vow at the instant it first ordered (once the fill is booked: it then holds a
            position whose exit is still to come); the others at KILL_DAILY_AT. The clock
            stands still until every killed host is back and has handled the instant."""
            before = len(result.kills)
            if "vow" not in result.kills and watch.orders["vow"]:
                wait_for(lambda: watch.fills["vow"], 30, "vow's first fill booked")
                result.kills["vow"] = kill(system, admin, watch, "vow")
            if at == KILL_DAILY_AT:
                for name in NAMES:
                    if name != "vow":
                        result.kills[name] = kill(system, admin, watch, name)
            if len(result.kills) > before:
                wait_for(lambda: watch.settled(at), 240, f"the killed hosts back at {at}")
            if len(result.kills) > before or at.minute % 30 == 0:  # ats-ctl takes a second
                st = system.status()
                result.status_checks.append({n: (st[n]["state"], st[n]["pid"])
                                             for n in NAMES})

        try:
            wait_for(lambda: watch.settled(START), 60, "ten heartbeats at START")
            result.steps = advance_through(admin, watch, instants(), killing)
        finally:
            watch.close()
        result.fills = system.json("fills", "--limit", "0")
        result.positions = system.json("positions")
        result.logs = {n: system.log(f"strategy-{n}") for n in NAMES}
        result.reconcile_rc = system.ctl("reconcile", check=False).returncode
        result.wall_seconds = time.monotonic() - t0
        print(f"ten strategies: {result.wall_seconds:.0f} s wall for "
              f"{(END - START).total_seconds() / 3600:.1f} sim hours in {result.steps} clock "
              f"steps; {len(result.fills)} fills")
        yield result
    finally:
        tear_down(system)


# -- independent expectations: the first session's decisions from warm-up history -------------

class History:
    """Daily bars before the first session, exactly as the simulator serves them to warm-up."""

    def __init__(self) -> None:
        self.universe = Universe()
        self.market = Market(self.universe, SIM_SEED)
        self.day = START.date()
        self.now = START.timestamp()
        self.cut = pd.Timestamp(self.day, tz="UTC").timestamp()

    def closes(self, symbol: str, n: int) -> pd.Series:
        inst = self.universe.by_symbol(symbol)
        assert inst is not None, symbol
        bars = self.market.daily_bars(inst, self.day, int(n * 1.6) + 10, "TRADES", self.now)
        bars = [b for b in bars if b.time < self.cut][-n:]
        return pd.Series([b.close for b in bars],
                         index=pd.to_datetime([b.time for b in bars], unit="s", utc=True))

    def arr(self, symbol: str, n: int) -> np.ndarray:
        return self.closes(symbol, n).to_numpy()


def lookback(name: str, symbol: str, params: Params | None = None) -> int:
    strategy = CLASSES[name]("expect", params or params_of(name), None)  # no context needed
    return next(s.lookback for s in strategy.subscriptions() if s.instrument.symbol == symbol)


def expected_first_session() -> dict[str, set[Pair]]:
    h = History()
    out: dict[str, set[Pair]] = {}

    p_ltmt: Any = params_of("ltmt")
    monthly = ltmt.month_end_closes(h.closes(p_ltmt.symbol, lookback("ltmt", p_ltmt.symbol)))
    long_ = ltmt.ltmt_signal(monthly.to_numpy(), p_ltmt.ma_months)
    out["ltmt"] = {(p_ltmt.symbol, "BOT")} if long_ else set()

    p_sie: Any = params_of("sie")
    n = lookback("sie", p_sie.symbols[0])
    scores = {s: sie.momentum_score(h.arr(s, n), p_sie.lookbacks) for s in p_sie.symbols}
    out["sie"] = {(s, "BOT") for s in sie.sie_selection(scores, p_sie.top_n,
                                                          p_sie.absolute_filter)}

    p_cnr: Any = params_of("cnr")
    n = lookback("cnr", p_cnr.symbols[0])
    rets = {s: pct_return(h.arr(s, n), p_cnr.lookback_days) for s in p_cnr.symbols}
    targets = cnr.cnr_targets(rets, p_cnr.n_long, p_cnr.n_short, p_cnr.exposure_per_name)
    out["cnr"] = {(s, "BOT" if t > 0 else "SLD") for s, t in targets.items() if t}

    p_sm: Any = params_of("smag7")
    n = lookback("smag7", p_sm.symbols[0])
    out["smag7"] = set()
    for s in p_sm.symbols:
        c = h.arr(s, n)
        if smag7.smag7_action(float(c[-1]), sma(c, p_sm.sma_days), False, True, None) == "enter":
            out["smag7"].add((s, "SLD"))

    p_rt: Any = params_of("short_rsi_thrust")
    n = lookback("short_rsi_thrust", p_rt.symbols[0])
    snaps = {}
    for s in p_rt.symbols:
        c = h.arr(s, n)
        snaps[s] = short_rsi_thrust.Snapshot(float(c[-1]), rsi(c[-(p_rt.rsi_period * 10):],
                                                                p_rt.rsi_period),
                                             sma(c, p_rt.trend_days))
    out["short_rsi_thrust"] = {(s, "SLD") for s in
                               short_rsi_thrust.rsi_thrust_entries(snaps, set(), p_rt)}

    p_s2: Any = params_of("s2")
    n = lookback("s2", p_s2.symbol_a)
    _, z = s2.s2_signal(h.arr(p_s2.symbol_a, n), h.arr(p_s2.symbol_b, n), p_s2.window)
    state = s2.s2_next_state(s2.FLAT, z, p_s2)
    legs = {s2.LONG_SPREAD: ("BOT", "SLD"), s2.SHORT_SPREAD: ("SLD", "BOT")}.get(state)
    out["s2"] = set() if legs is None else {(p_s2.symbol_a, legs[0]), (p_s2.symbol_b, legs[1])}

    p_pea: Any = params_of("pea_oss")
    pcr = h.arr(p_pea.pcr_symbol, lookback("pea_oss", p_pea.pcr_symbol))
    osc = pea_oss.pcr_oscillator(pcr, p_pea.smooth, p_pea.window)
    exposure = pea_oss.pea_oss_exposure(osc, p_pea.initial_exposure, p_pea)
    out["pea_oss"] = {(p_pea.symbol, "BOT")} if exposure > 0 else set()

    p_sv: Any = params_of("svix")
    n = lookback("svix", p_sv.vix)
    ratio = svix.term_structure_ratio(h.arr(p_sv.vix, n), h.arr(p_sv.vix3m, n), p_sv.smooth)
    regime = svix.svix_regime(ratio, svix.FLAT, p_sv)
    out["svix"] = {(p_sv.symbol, "BOT")} if regime == svix.SHORT_VOL else set()
    vix_pair, _ = expected_short_vix(h)
    out["short_vix"] = vix_pair
    return out


def expected_short_vix(h: History) -> tuple[set[Pair], int | None]:
    """short_vix's first decision, from the index and futures prices at its decision time."""
    p: Any = params_of("short_vix")
    close = xcals.get_calendar("XNYS").session_close(START.date())  # the first session
    t = close - pd.Timedelta(minutes=p.minutes_before_close)
    vix_inst = h.universe.by_symbol(p.vix)
    assert vix_inst is not None
    vix = h.market.quote(vix_inst, t.timestamp()).last
    vrp = short_vix.variance_risk_premium(vix, h.arr(p.spx, p.rv_days + 5), p.rv_days)
    listed = [f for f in h.universe.futures(t.date()) if f.klass == p.symbol][: p.chain_size]
    quotes = [(Future(p.symbol, f.expiry), h.market.mid(f, t.timestamp())) for f in listed]
    if not (vrp > p.min_vrp and short_vix.in_contango(vix, [q for _, q in quotes])):
        return set(), None
    target = short_vix.choose_contract(vix, quotes, t, p.roll_days)
    if target is None:
        return set(), None
    con_id = next(f.con_id for f in listed if f.expiry == target.expiry)
    return {("VXM", "SLD")}, con_id  # IB (and the venue) list the mini VIX future as VXM


def expected_vow_first_entry() -> tuple[str, str, pd.Timestamp] | None:
    """vow's first entry: the first session's 5-second bars, aggregated as the host does."""
    h = History()
    p: Any = params_of("vow")
    first: tuple[pd.Timestamp, str, str] | None = None
    t0 = pd.Timestamp(START.date(), tz="UTC") + pd.Timedelta(hours=12)
    for sym in p.symbols:
        inst = h.universe.by_symbol(sym)
        assert inst is not None
        agg, session, vols = BarAggregator(sym, p.bar_size), vow._Session(), []
        for b in h.market.intraday_bars(inst, t0.timestamp(), t0.timestamp() + 8 * 3600, 5,
                                        "TRADES"):
            bar = agg.add(pd.Timestamp(b.time, unit="s", tz="UTC"), b.open, b.high, b.low,
                          b.close, b.volume)
            if bar is None:
                continue
            vwap = session.update(bar)
            vols.append(bar.volume)
            if len(vols) <= p.vol_window:
                continue
            side = vow.vow_entry(bar.close, vwap, bar.volume,
                                 float(np.mean(vols[-p.vol_window - 1:-1])), p)
            if side and (first is None or bar.time < first[0]):
                first = (bar.time, sym, "BOT" if side > 0 else "SLD")
            if side:
                break
    return None if first is None else (first[1], first[2], first[0])


def universe_of(name: str) -> set[str]:
    if name == "short_vix":
        return {"VIX", "VXM"}  # the VIX index and the VXM futures (symbol VXM, as IB lists them)
    strategy = CLASSES[name]("universe", params_of(name), None)
    return {s.instrument.symbol for s in strategy.subscriptions() if s.instrument.tradable}


def fills_by_strategy(run: Run) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in run.fills:
        out[f["strategy"]].append(f)
    return out


# -- tests ---------------------------------------------------------------------------------------

def test_every_strategy_runs_throughout_in_one_process_before_its_kill_and_one_after(
        run: Run) -> None:
    assert len(run.status_checks) >= 10
    assert set(run.kills) == set(NAMES), f"not killed: {set(NAMES) - set(run.kills)}"
    for name in NAMES:
        seen = [c[name] for c in run.status_checks]
        pids = [pid for _, pid in seen if pid]
        processes = [p for i, p in enumerate(pids) if i == 0 or p != pids[i - 1]]
        assert len(processes) == 2 and processes[0] == run.kills[name].pid, (name, seen)
        # A check may fall in the second or two the new process takes to start, or (on a
        # loaded machine) in a moment its heartbeat is late: the same process, UNRESPONSIVE.
        # Handler errors (ERRORING) are failed by test_strategy_logs_hold_no_errors_....
        others = sorted({(state, pid) for state, pid in seen
                         if pid and state not in ("RUNNING", "STARTING", "UNRESPONSIVE")})
        assert not others, (name, others)
        assert seen[-1][0] == "RUNNING", (name, seen)


def test_each_strategy_was_killed_while_holding_a_position(run: Run) -> None:
    empty = {name: k.sim_time for name, k in run.kills.items() if not k.held}
    assert not empty, f"held nothing when killed: {empty}"


def test_each_killed_strategy_comes_back_with_its_saved_state_and_the_book_it_held(
        run: Run) -> None:
    for name, k in run.kills.items():
        after = run.logs[name][k.log_offset:]
        assert f"strategy {name} running" in after, f"{name} never came back:\n{after[-2000:]}"
        assert "restored saved state" in after, name
        if name != "vow":  # killed at night: the state was saved with the book it held
            assert "reconcile " not in after, f"{name}:\n{after[-2000:]}"


def test_vow_exits_the_position_it_held_when_killed_by_its_own_rule_the_same_session(
        run: Run) -> None:
    k = run.kills["vow"]
    assert k.held, "vow held nothing when killed"
    # Killed at its first fill; an entry in a second symbol on the same bar may fill before
    # the kill lands: each position held is exited the same session.
    for symbol, qty in k.held.items():
        fills = [f for f in fills_by_strategy(run)["vow"] if f["symbol"] == symbol
                 and pd.Timestamp(f["time"]) < FIRST_SESSION_END]
        signed = [float(f["shares"]) * (1 if f["side"] == "BOT" else -1) for f in fills]
        assert abs(sum(signed)) < 1e-9, f"vow ended the session holding {sum(signed)} {symbol}"
        closing = [f for f, q in zip(fills, signed, strict=True)
                   if q * qty < 0 and pd.Timestamp(f["time"]) > k.sim_time]
        assert closing, f"no exit of {symbol} after the kill at {k.sim_time}: {fills}"


def test_no_daily_strategy_enters_again_what_it_held_when_killed(run: Run) -> None:
    end = {(p["strategy"], str(p["symbol"])): float(p["position"]) for p in run.positions}
    for name, k in run.kills.items():
        if name == "vow":
            continue
        for symbol, qty in k.held.items():
            now = end.get((name, symbol), 0.0)
            # Rebalancing moves a position by a few percent; a second entry doubles it.
            assert now * qty <= 1.5 * qty * qty, f"{name} {symbol}: held {qty}, now {now}"


def test_strategy_logs_hold_no_errors_or_tracebacks(run: Run) -> None:
    for name, text in run.logs.items():
        assert f"strategy {name} running" in text
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        errors = [line for line in text.splitlines() if " ERROR " in line]
        assert not errors, f"{name}: {errors}"


def test_first_session_fills_are_what_each_signal_implies(run: Run) -> None:
    expected = expected_first_session()
    assert all(expected.values()), f"a signal did not fire on the first session: {expected}"
    by = fills_by_strategy(run)
    for name, pairs in expected.items():
        got = {(f["symbol"], f["side"]) for f in by[name]
               if pd.Timestamp(f["time"]) < FIRST_SESSION_END}
        assert got == pairs, f"{name}: filled {sorted(got)}, its signal implies {sorted(pairs)}"


def test_strategies_keep_deciding_on_later_sessions(run: Run) -> None:
    # Daily bars built live from 5-second bars must reach the daily strategies: some of them
    # trade again after the first session (smag7 covers, short_rsi_thrust adds names, ...).
    later = [f for f in run.fills if pd.Timestamp(f["time"]) >= FIRST_SESSION_END
             and f["strategy"] != "vow"]
    assert later, "no daily strategy traded after the first session"


def test_vow_enters_on_vwap_deviations_and_exits_the_same_session(run: Run) -> None:
    # Also the proof that the feed keeps up with the venue clock: a host running behind sees
    # the morning's bars only after its own before-close flatten, and never enters.
    expected = expected_vow_first_entry()
    assert expected is not None
    symbol, side, bar_time = expected
    fills = fills_by_strategy(run)["vow"]
    assert fills, f"vow never traded (expected {side} {symbol} after the {bar_time} bar)"
    first = fills[0]
    assert (first["symbol"], first["side"]) == (symbol, side)
    assert bar_time < pd.Timestamp(first["time"]) < bar_time + pd.Timedelta(hours=2)
    assert {f["side"] for f in fills} == {"BOT", "SLD"}


def test_short_vix_shorts_the_mini_vix_future_with_the_best_roll_yield(run: Run) -> None:
    _, con_id = expected_short_vix(History())
    assert con_id is not None
    first = fills_by_strategy(run)["short_vix"][0]
    assert (first["side"], first["con_id"]) == ("SLD", con_id)


def test_every_fill_belongs_to_the_strategy_of_its_order_ref_and_universe(run: Run) -> None:
    assert run.fills
    for f in run.fills:
        ref = orderref.parse(f["order_ref"])
        assert ref is not None and ref[0] == f["strategy"], f
        assert f["strategy"] in NAMES, f
        assert f["symbol"] in universe_of(f["strategy"]), f


def test_the_unattributed_book_is_empty(run: Run) -> None:
    unattributed = [p for p in run.positions if p["strategy"] == "unattributed"
                    and p["position"] != 0]
    assert not unattributed
    assert run.reconcile_rc == 0
