"""Issue 14: the ten strategies hold up over weeks of live running.

One system (hub, manager, broker, simulator, web, alerts and the ten strategy hosts) runs
under real supervisord on the simulator's stepped clock from Monday 2026-08-31 through Monday
2026-11-30: 64 New York sessions with three month-ends (Aug 31, Sep 30, Oct 30), three VIX
futures expiries (Sep 16, Oct 21, Nov 18), two exchange holidays (Labor Day, Thanksgiving)
and a half day (Nov 27). The test advances the venue one session at a time, to half an hour
after each close, with real-time bars of BAR_SECONDS each (5-second bars through 64 sessions
would be some 25 million messages), and before the next session waits until every host
reports, in its heartbeat's venue_time, that it has handled every bar and callback up to
there. The venue runs through a session's bars in well under a second of wall time, so the order
of a decision before the close usually reaches it after the close and fills at the next open,
as a Gateway queues an order placed outside regular hours (a roll decided five days before an
expiry then fills with two to five days left).

After each session the broker's books are read: no strategy may hold a contract that has
expired. After the last one:
- every strategy is RUNNING in the process it started in (none crashed or was restarted);
- nothing is unattributed, and each strategy's book at the broker is exactly what its own host
  believes it holds, in instruments of its own universe;
- the books equal the account (the broker's reconciliation, and `ats-ctl reconcile`);
- the resident memory of every process grew less than 20% from the end of the first week of
  sessions (imports, caches and the first decisions are done by then) to the end.

short_vix is tested on the same run, separately: it is short VXM throughout (its premium
threshold is lowered so that only the contango test decides, and the synthetic curve of
SIM_SEED is in contango on every one of these sessions), rolls out of at least two contracts
before they expire, and never holds one past its expiry.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest
import zmq
from systemkit import System, broker, make_home, tear_down, wait_for

from ats.sim.admin import AdminClient
from ats.sim.calendar import Session, calendar
from ats.sim.universe import Instrument, Universe
from ats.stats.sampler import Sampler
from bus import topics
from bus.subscriber import SyncSubscriber
from strategies import cnr, ltmt, pea_oss, s2, short_rsi_thrust, short_vix, sie, smag7, svix, vow

pytestmark = [pytest.mark.system, pytest.mark.timeout(600)]

SIM_SEED = 1
START = pd.Timestamp("2026-08-31T00:00:00Z")  #: Monday, before the first session
LAST_SESSION = pd.Timestamp("2026-11-30")
BAR_SECONDS = 900  #: each real-time bar covers a quarter hour
AFTER_CLOSE = pd.Timedelta(minutes=30)  #: where each session's advance stops
WARMUP_SESSIONS = 5  #: memory is measured from the end of the first week of sessions
MAX_RSS_GROWTH = 0.20
ROLL_LEGS_APART = 4  #: calendar days between a roll's two fills at most (Friday to Monday)
WARM_UP_TIMEOUT = 240  #: seconds for ten hosts to import, connect and load their history

# Decision times are on the quarter-hour grid of the bars (a host's clock moves to a bar's start
# as the bar arrives) and staggered, so approvals reach the broker a few at a time. vow's bars
# are the real-time bars' quarter hours. Universes are subsets of the defaults (31
# subscriptions in all), as in test_system_strategies.
SECTORS5 = ["XLK", "XLE", "XLV", "XLU", "XLRE"]
SEED: list[dict[str, Any]] = [
    {"name": "ltmt", "params": {"minutes_before_close": 60}},
    {"name": "pea_oss", "params": {"window": 60, "smooth": 5, "minutes_before_close": 45}},
    {"name": "s2", "params": {"window": 20, "entry_z": 1.0, "minutes_before_close": 90}},
    {"name": "svix", "params": {"minutes_before_close": 75}},
    {"name": "short_rsi_thrust", "params": {"symbols": ["MSFT", "AAPL", "PEP"],
                                            "trend_days": 50, "minutes_before_close": 105}},
    {"name": "short_vix", "params": {"min_vrp": -100.0, "minutes_before_close": 120}},
    {"name": "cnr", "params": {"symbols": SECTORS5, "n_long": 2, "n_short": 2,
                               "offset_minutes": 300}},
    {"name": "sie", "params": {"symbols": SECTORS5, "minutes_before_close": 60}},
    {"name": "smag7", "params": {"symbols": ["AAPL", "MSFT", "AMZN", "NVDA"],
                                 "minutes_before_close": 30}},
    {"name": "vow", "params": {"symbols": ["TSLA", "NVDA"], "dev_pct": 0.002,
                               "bar_size": "15min", "flatten_minutes": 30}},
]
NAMES = [str(s["name"]) for s in SEED]
CLASSES: dict[str, Any] = {
    "ltmt": ltmt.Ltmt, "pea_oss": pea_oss.PeaOss, "s2": s2.S2, "svix": svix.Svix,
    "short_rsi_thrust": short_rsi_thrust.ShortRsiThrust, "cnr": cnr.Cnr, "sie": sie.Sie,
    "smag7": smag7.Smag7, "vow": vow.Vow, "short_vix": short_vix.ShortVix,
}


def sessions() -> list[Session]:
    cal = calendar("XNYS")
    days = pd.date_range(START.date(), LAST_SESSION, freq="D")
    return [s for s in (cal.on(d.date()) for d in days) if s is not None]


def after(session: Session) -> pd.Timestamp:
    return pd.Timestamp(session.close, unit="s", tz="UTC") + AFTER_CLOSE


@dataclass
class Sample:
    """The broker's books after one session."""

    day: pd.Timestamp
    books: dict[str, dict[int, float]]  #: strategy -> con_id -> position


@dataclass
class Run:
    system: System
    sessions: list[Session]
    samples: list[Sample] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  #: program -> pid once warmed up
    rss_warm: dict[str, int] = field(default_factory=dict)  #: program -> bytes, first week
    rss_end: dict[str, int] = field(default_factory=dict)
    host_books: dict[str, dict[str, float]] = field(default_factory=dict)  #: from heartbeats
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    reconcile: dict[str, Any] = field(default_factory=dict)
    reconcile_rc: int = -1
    wall: dict[str, float] = field(default_factory=dict)


class HostClocks:
    """The venue time each host last reported in its heartbeat (and the positions it holds)."""

    def __init__(self, system: System, names: list[str]) -> None:
        self.names = names
        self.venue_time: dict[str, pd.Timestamp] = {}
        self.positions: dict[str, dict[str, float]] = {}
        self._sub = SyncSubscriber(zmq.Context.instance(), system.cfg().endpoints.subscribe,
                                   [topics.hb(n) for n in names])

    def poll(self, timeout: float) -> None:
        msg = self._sub.recv(timeout=timeout)
        while msg is not None:
            topic, env = msg
            name = topics.parse(topic)[1]
            if env.body.get("venue_time"):
                self.venue_time[name] = pd.Timestamp(env.body["venue_time"])
            self.positions[name] = {str(k): float(v) for k, v in
                                    (env.body.get("positions") or {}).items() if v}
            msg = self._sub.recv(timeout=0)

    def lagging(self, target: pd.Timestamp) -> list[str]:
        return [n for n in self.names if self.venue_time.get(n, START) < target]

    def settle(self, target: pd.Timestamp, timeout: float) -> None:
        """Wait until every host has handled everything up to `target`."""
        deadline = time.monotonic() + timeout
        while lagging := self.lagging(target):
            if time.monotonic() > deadline:
                raise AssertionError(f"hosts not at {target} after {timeout:.0f} s: "
                                     f"{ {n: str(self.venue_time.get(n)) for n in lagging} }")
            self.poll(0.2)

    def close(self) -> None:
        self._sub.close()


def cold(system: System) -> list[str]:
    """The strategies whose host has not finished its warm-up."""
    return [n for n in NAMES if f"strategy {n} running" not in system.log(f"strategy-{n}")]


def books(system: System) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for r in broker(system, "positions"):
        if r["position"]:
            out[str(r["strategy"])][int(r["con_id"])] = float(r["position"])
    return dict(out)


def rss(system: System, sampler: Sampler) -> dict[str, int]:
    out = {}
    for info in system.supervisor().rpc.getAllProcessInfo():
        sample = sampler.sample(int(info["pid"])) if info["pid"] else None
        if sample is not None:
            out[str(info["name"])] = sample.rss_bytes
    return out


def pids(system: System) -> dict[str, int]:
    return {str(i["name"]): int(i["pid"]) for i in system.supervisor().rpc.getAllProcessInfo()}


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    home = make_home(SEED, {"sim": {"clock": "stepped", "seed": SIM_SEED,
                                    "start": START.strftime("%Y-%m-%dT%H:%M:%SZ")},
                            "broker": {"reconcile_seconds": 2.0, "equity_sample_seconds": 5.0}})
    system = System(home)
    result = Run(system, sessions())
    t0 = time.monotonic()
    clocks: HostClocks | None = None
    try:
        system.ctl("up", timeout=180)
        try:
            wait_for(lambda: not cold(system), WARM_UP_TIMEOUT, "ten strategies warmed up")
        except AssertionError:
            last = {n: system.log(f"strategy-{n}").splitlines()[-1:] for n in cold(system)}
            raise AssertionError(f"not warmed up after {WARM_UP_TIMEOUT} s: {last}") from None
        result.wall["warmed up"] = time.monotonic() - t0
        result.pids = pids(system)
        cfg = system.cfg()
        admin = AdminClient(str(cfg.venue["host"]), int(cfg.section("sim")["admin_port"]))
        clocks = HostClocks(system, NAMES)
        sampler = Sampler()
        for i, session in enumerate(result.sessions):
            target = after(session)
            admin.call("advance", to=target.isoformat(), bar_seconds=BAR_SECONDS)
            clocks.settle(target, 60)
            result.samples.append(Sample(pd.Timestamp(session.day), books(system)))
            if i + 1 == WARMUP_SESSIONS:
                result.rss_warm = rss(system, sampler)
                result.wall["first week"] = time.monotonic() - t0
        # Into the next session, so that orders placed after the last close fill.
        nxt = calendar("XNYS").last_started(after(result.sessions[-1]).timestamp() + 86400)
        assert nxt is not None
        target = pd.Timestamp(nxt.open, unit="s", tz="UTC") + pd.Timedelta(minutes=15)
        admin.call("advance", to=target.isoformat(), bar_seconds=BAR_SECONDS)
        clocks.settle(target, 60)
        result.wall["sessions"] = time.monotonic() - t0
        wait_for(lambda: not [o for o in broker(system, "orders") if o.get("strategy") in NAMES],
                 30, "no open orders")
        result.reconcile = wait_for(lambda: (r := broker(system, "reconcile"))["checked"]
                                    and not r["breaks"] and r, 30, "books equal to the account")
        result.reconcile_rc = system.ctl("reconcile", check=False).returncode
        result.positions = broker(system, "positions")

        def host_books_match() -> bool:
            clocks.poll(1.2)
            result.host_books = dict(clocks.positions)
            return all(n in clocks.positions for n in NAMES) and all(
                book_keys(result.positions, n) == result.host_books[n] for n in NAMES)

        with contextlib.suppress(AssertionError):  # the test names what differs
            wait_for(host_books_match, 15, "hosts' books equal to the broker's")
        result.rss_end = rss(system, sampler)
        result.status = system.status()
        result.fills = broker(system, "fills", limit=0)
        result.wall["checked"] = time.monotonic() - t0
        print(f"long run: {len(result.sessions)} sessions, {len(result.fills)} fills; wall "
              + ", ".join(f"{k} {v:.0f} s" for k, v in result.wall.items()))
        yield result
    finally:
        if clocks is not None:
            clocks.close()
        tear_down(system)


# -- what the books hold ------------------------------------------------------------------------

@functools.cache
def contracts() -> dict[int, Instrument]:
    """Every contract the simulator lists during the run: futures are listed eight months out."""
    u = Universe()
    return {i.con_id: i for i in u.static() + u.futures(START.date())}


def expiry(con_id: int) -> pd.Timestamp | None:
    inst = contracts()[con_id]
    return pd.Timestamp(inst.expiry) if inst.sec_type == "FUT" else None


def key_of(con_id: int) -> str:
    """The instrument key a host uses for this contract (ats.sdk Instrument.key)."""
    inst = contracts()[con_id]
    if inst.sec_type == "FUT":
        return f"{inst.symbol}.FUT.{inst.expiry}"
    return f"{inst.symbol}.{inst.sec_type}"


def book_keys(rows: list[dict[str, Any]], name: str) -> dict[str, float]:
    return {key_of(int(r["con_id"])): float(r["position"]) for r in rows
            if r["strategy"] == name and r["position"]}


def universe_of(name: str) -> set[str]:
    entry = next(s for s in SEED if s["name"] == name)
    params = CLASSES[name].params_type.from_mapping(entry.get("params", {}))
    if name == "short_vix":
        return {params.vix, params.spx, params.symbol}  # the futures chain is the venue's
    strategy = CLASSES[name]("universe", params, None)  # subscriptions need no context
    return {s.instrument.symbol for s in strategy.subscriptions()}


# -- the long run ---------------------------------------------------------------------------------

def test_the_run_spans_sixty_sessions_month_ends_futures_expiries_and_holidays(run: Run) -> None:
    days = [pd.Timestamp(s.day) for s in run.sessions]
    assert len(run.samples) == len(days) >= 60
    weekdays = pd.bdate_range(days[0], days[-1])
    assert len(set(weekdays) - set(days)) >= 1, "no exchange holiday in the run"
    assert len({d.to_period("M") for d in days}) >= 3, "fewer than two month-ends crossed"
    expiries = {e for e in (expiry(c) for c in contracts()) if e is not None}
    assert [e for e in expiries if days[0] <= e < days[-1]], "no futures expiry in the run"


def test_every_strategy_is_still_running_in_the_process_it_started_in(run: Run) -> None:
    assert {n: run.status[n]["state"] for n in NAMES} == {n: "RUNNING" for n in NAMES}
    programs = {f"strategy-{n}" for n in NAMES} | {"broker", "manager", "gateway-sim", "bus"}
    end = pids(run.system)
    assert {p: end[p] for p in programs} == {p: run.pids[p] for p in programs}, \
        "a process was restarted during the run"


def test_no_strategy_ever_holds_an_expired_contract(run: Run) -> None:
    held_expired = [(s.day.date(), name, key_of(c), q)
                    for s in run.samples for name, book in s.books.items()
                    for c, q in book.items() if (e := expiry(c)) is not None and e <= s.day]
    assert held_expired == []


def test_nothing_is_held_that_its_strategy_does_not_know(run: Run) -> None:
    assert book_keys(run.positions, "unattributed") == {}
    for name in NAMES:
        held = book_keys(run.positions, name)
        assert held == run.host_books.get(name), (
            f"{name}: the broker's book {held} is not what its host holds "
            f"{run.host_books.get(name)}")
        foreign = {k for k in held if k.split(".")[0] not in universe_of(name)}
        assert not foreign, f"{name} holds {foreign}, outside its universe"


def test_the_books_equal_the_account(run: Run) -> None:
    assert run.reconcile["breaks"] == []
    assert run.reconcile_rc == 0


def test_memory_of_every_process_grew_less_than_a_fifth(run: Run) -> None:
    growth = {p: (run.rss_end[p] - run.rss_warm[p]) / run.rss_warm[p] for p in run.rss_warm
              if p in run.rss_end}
    mb = 1024 * 1024
    print("RSS after the first week -> at the end (MB): " + ", ".join(
        f"{p} {run.rss_warm[p] / mb:.0f}->{run.rss_end[p] / mb:.0f}" for p in sorted(growth)))
    assert {f"strategy-{n}" for n in NAMES} <= set(growth)
    assert {p: round(g, 3) for p, g in growth.items() if g >= MAX_RSS_GROWTH} == {}


def test_every_strategy_traded_and_the_account_traded_in_every_month(run: Run) -> None:
    by_strategy: dict[str, int] = defaultdict(int)
    months: set[pd.Period] = set()
    for f in run.fills:
        by_strategy[f["strategy"]] += 1
        months.add(new_york_day(pd.Timestamp(f["time"])).to_period("M"))
    print("fills per strategy: " + ", ".join(f"{n} {by_strategy[n]}" for n in NAMES))
    assert [n for n in NAMES if not by_strategy[n]] == []
    run_months = {pd.Timestamp(s.day).to_period("M") for s in run.sessions}
    assert run_months - {pd.Timestamp(run.sessions[0].day).to_period("M")} <= months


# -- short_vix over three months --------------------------------------------------------------

def new_york_day(t: pd.Timestamp) -> pd.Timestamp:
    """The trading day of an instant (what a futures expiry date is compared with)."""
    return pd.Timestamp(t.tz_convert("America/New_York").date())


@dataclass
class Holding:
    con_id: int
    opened: pd.Timestamp
    closed: pd.Timestamp | None = None  #: None: still held at the end


def short_vix_holdings(fills: list[dict[str, Any]]) -> list[Holding]:
    """Each span during which short_vix held a contract, from its fills in time order."""
    rows = sorted((f for f in fills if f["strategy"] == "short_vix"),
                  key=lambda f: pd.Timestamp(f["time"]))
    position: dict[int, float] = defaultdict(float)
    open_: dict[int, Holding] = {}
    spans: list[Holding] = []
    for f in rows:
        con_id, t = int(f["con_id"]), pd.Timestamp(f["time"])
        before = position[con_id]
        position[con_id] += float(f["shares"]) * (1 if f["side"] == "BOT" else -1)
        if before == 0 and position[con_id] != 0:
            open_[con_id] = Holding(con_id, t)
            spans.append(open_[con_id])
        elif before != 0 and position[con_id] == 0:
            open_.pop(con_id).closed = t
    return spans


def test_short_vix_rolls_out_of_two_contracts_before_they_expire(run: Run) -> None:
    params: Any = CLASSES["short_vix"].params_type.from_mapping(
        next(s for s in SEED if s["name"] == "short_vix")["params"])
    spans = short_vix_holdings(run.fills)
    print("short_vix held: " + "; ".join(
        f"{key_of(h.con_id)} {new_york_day(h.opened).date()}.."
        f"{new_york_day(h.closed).date() if h.closed else 'end'}"
        for h in spans))
    rolls = []
    for h in spans:
        e = expiry(h.con_id)
        assert e is not None
        if h.closed is None:
            continue
        closed = new_york_day(h.closed)
        # The two legs of a roll are ordered together; the venue may fill one at the next open.
        successor = [n for n in spans if n.con_id != h.con_id
                     and abs((new_york_day(n.opened) - closed).days) <= ROLL_LEGS_APART]
        if successor:
            rolls.append((key_of(h.con_id), closed.date(), (e - closed).days,
                          key_of(successor[0].con_id)))
    # Closed within roll_days of its expiry and replaced by a later contract.
    assert len(rolls) >= 2, rolls
    for old, day, days_left, new in rolls:
        assert 0 < days_left <= params.roll_days, (old, day, days_left)
        assert new > old, (old, new)
    # Short throughout, except before its first fill and on a roll's day, when the venue may
    # fill the closing leg in the session and the opening one at the next open.
    rolled = {new_york_day(h.closed) for h in short_vix_holdings(run.fills) if h.closed}
    flat = [s.day for s in run.samples if "short_vix" not in s.books]
    assert [d for d in flat[1:] if d not in rolled] == [], flat


def test_short_vix_never_holds_a_contract_past_its_expiry(run: Run) -> None:
    end = run.samples[-1].day
    late = []
    for h in short_vix_holdings(run.fills):
        e = expiry(h.con_id)
        assert e is not None
        held_until = new_york_day(h.closed) if h.closed is not None else end
        if held_until >= e:  # a VIX future settles at the open of its expiry day
            late.append((key_of(h.con_id), str(new_york_day(h.opened).date()),
                         str(held_until.date())))
    assert late == []
