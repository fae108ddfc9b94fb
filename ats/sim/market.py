"""Seeded synthetic market: daily closes from factor models, intraday paths as
Brownian bridges between closes, quotes with deterministic microstructure.

Everything is a pure function of (seed, instrument, time), so the same request at the
same sim time always returns the same numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass

import numpy as np

from ats.sim.calendar import Calendar, calendar, calendar_name
from ats.sim.universe import (
    PCR_CON_ID,
    SPX_CON_ID,
    VIX3M_CON_ID,
    VIX_CON_ID,
    Instrument,
    Universe,
)

EPOCH_DAY = dt.date(1980, 1, 1)
ANCHOR_DAY = dt.date(2025, 1, 1)
CHUNK = 366
STEP = 5  #: seconds between intraday path points
STEPS = 86400 // STEP
PATH_CACHE = 160  #: (instrument, day) paths kept: two days of 80 instruments, ~22 MB
CLOSE_HOUR_UTC = 21  #: the synthetic day runs from 21:00 UTC to 21:00 UTC
RTH_START_IDX = (14 * 3600 + 30 * 60 + 3 * 3600) // STEP  #: 14:30 UTC, for non-session days
MARKET_VOL = 0.16
VIX_MEAN = math.log(18.0)
VIX3M_MEAN = math.log(19.5)
VX_MEAN = math.log(19.5)
VX_DECAY_DAYS = 45.0
WEEKEND_SCALE = 0.3
VOLUME_BUCKET = 300  #: seconds of intraday volume that share one burst level
BURST_ODDS = 10  #: one bucket in this many trades a burst ...
BURST_SIZE = 2.5  #: ... of this many times its usual volume


@dataclass(frozen=True)
class Quote:
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float
    open: float
    high: float
    low: float
    close: float  #: previous day's close


@dataclass(frozen=True)
class Bar:
    time: float  #: bar start, epoch seconds (daily bars: 00:00 UTC of the session date)
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


def _mix(*parts: int) -> int:
    """splitmix64 over the parts: a cheap deterministic hash."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (p & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
    return x


def day_index(day: dt.date) -> int:
    return (day - EPOCH_DAY).days


def day_of(ts: float) -> dt.date:
    """The synthetic trading day that contains instant `ts` (it closes 21:00 UTC)."""
    return dt.datetime.fromtimestamp(ts + (24 - CLOSE_HOUR_UTC) * 3600, dt.UTC).date()


def day_start(day: dt.date) -> float:
    """Epoch seconds at which `day`'s path starts (21:00 UTC the day before)."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    return midnight - (24 - CLOSE_HOUR_UTC) * 3600


def calendar_of(inst: Instrument) -> Calendar:
    """The exchange calendar whose sessions `inst` trades in."""
    return calendar(calendar_name(inst.sec_type))


def volume_profile(x: float) -> float:
    """The share of a session's volume traded by fraction `x` of its regular hours: U-shaped,
    twice the average rate at the open and the close, half of it at midday."""
    x = min(max(x, 0.0), 1.0)
    return 0.5 * x + 0.25 * ((2 * x - 1) ** 3 + 1)


def round_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 6)


class DailyModel:
    """Daily log closes for every static instrument, generated in seeded chunks."""

    def __init__(self, universe: Universe, seed: int) -> None:
        self.seed = seed
        self.stocks = [i for i in universe.static() if i.sec_type == "STK"]
        self.sectors = sorted({i.sector for i in self.stocks})
        self.row = {i.con_id: n for n, i in enumerate(self.stocks)}
        self._cum = np.zeros((len(self.stocks), 0))
        self.vix = np.zeros(0)  #: log VIX
        self.vix3m_noise = np.zeros(0)
        self.pcr = np.zeros(0)
        self.market = np.zeros(0)  #: market shock per day
        self._chunks = 0
        self._anchor_cum: np.ndarray | None = None
        self.ensure(day_index(ANCHOR_DAY) + 1)

    def ensure(self, n_days: int) -> None:
        while self._chunks * CHUNK < n_days:
            self._grow()
        if self._anchor_cum is None:
            self._anchor_cum = self._cum[:, day_index(ANCHOR_DAY)].copy()

    def _grow(self) -> None:
        k = self._chunks
        rng = np.random.default_rng([self.seed, k, 1])
        days = np.arange(k * CHUNK, (k + 1) * CHUNK)
        weekday = np.array([(EPOCH_DAY + dt.timedelta(days=int(d))).weekday() for d in days])
        scale = np.where(weekday >= 5, WEEKEND_SCALE, 1.0)
        m = rng.standard_normal(CHUNK)
        sec = rng.standard_normal((len(self.sectors), CHUNK))
        idio = rng.standard_normal((len(self.stocks), CHUNK))
        own = rng.standard_normal(CHUNK)
        pnoise = rng.standard_normal(CHUNK)
        v3 = rng.standard_normal(CHUNK)
        x = self.vix[-1] if self.vix.size else VIX_MEAN
        p = self.pcr[-1] if self.pcr.size else 0.62
        xs = np.empty(CHUNK)
        ps = np.empty(CHUNK)
        regime = np.empty(CHUNK)
        for t in range(CHUNK):
            regime[t] = min(max(math.exp(x - VIX_MEAN), 0.5), 3.0)
            shock = 0.07 * scale[t] * (-0.75 * m[t] + 0.66 * own[t])
            x = x + 0.05 * (VIX_MEAN - x) + shock
            xs[t] = x
            p = p + 0.2 * (0.62 + 0.25 * (x - VIX_MEAN) - p) + 0.04 * pnoise[t]
            ps[t] = min(max(p, 0.3), 1.4)
        rets = np.empty((len(self.stocks), CHUNK))
        sd_m = MARKET_VOL / math.sqrt(252)
        for n, inst in enumerate(self.stocks):
            s = self.sectors.index(inst.sector)
            resid = max(inst.vol**2 - (inst.beta * MARKET_VOL) ** 2 - 0.1**2, 0.05**2)
            drift = 0.07 / 365 if inst.beta > 0 else -0.02 / 365
            rets[n] = drift + scale * (
                inst.beta * sd_m * regime * m
                + 0.1 / math.sqrt(252) * sec[s]
                + math.sqrt(resid) / math.sqrt(252) * idio[n]
            )
        last = self._cum[:, -1:] if self._cum.shape[1] else np.zeros((len(self.stocks), 1))
        self._cum = np.concatenate([self._cum, last + np.cumsum(rets, axis=1)], axis=1)
        self.vix = np.concatenate([self.vix, xs])
        self.pcr = np.concatenate([self.pcr, ps])
        self.vix3m_noise = np.concatenate([self.vix3m_noise, 0.03 * v3])
        self.market = np.concatenate([self.market, m * scale])
        self._chunks += 1

    def log_close(self, inst: Instrument, idx: int) -> float:
        self.ensure(idx + 1)
        assert self._anchor_cum is not None
        if inst.con_id in self.row:
            r = self.row[inst.con_id]
            return math.log(inst.ref_price) + float(self._cum[r, idx] - self._anchor_cum[r])
        if inst.con_id == VIX_CON_ID:
            return float(self.vix[idx])
        if inst.con_id == VIX3M_CON_ID:
            noise = float(self.vix3m_noise[idx])
            return VIX3M_MEAN + 0.55 * float(self.vix[idx] - VIX_MEAN) + noise
        if inst.con_id == PCR_CON_ID:
            return math.log(float(self.pcr[idx]))
        raise KeyError(inst.symbol)

    def log_closes(self, inst: Instrument, lo: int, hi: int) -> np.ndarray:
        """Log closes for day indices [lo, hi)."""
        self.ensure(hi)
        assert self._anchor_cum is not None
        if inst.con_id in self.row:
            r = self.row[inst.con_id]
            out: np.ndarray = math.log(inst.ref_price) + self._cum[r, lo:hi] - self._anchor_cum[r]
            return out
        if inst.con_id == VIX_CON_ID:
            return self.vix[lo:hi].copy()
        if inst.con_id == VIX3M_CON_ID:
            return VIX3M_MEAN + 0.55 * (self.vix[lo:hi] - VIX_MEAN) + self.vix3m_noise[lo:hi]
        if inst.con_id == PCR_CON_ID:
            return np.log(self.pcr[lo:hi])
        raise KeyError(inst.symbol)


def _tau_days(expiry: str, ts: float) -> float:
    exp = dt.datetime.strptime(expiry, "%Y%m%d").replace(
        hour=13, minute=30, tzinfo=dt.UTC).timestamp()
    return max(exp - ts, 0.0) / 86400.0


def future_log_price(expiry: str, log_vix: float | np.ndarray, ts: float | np.ndarray,
                     ) -> float | np.ndarray:
    exp = dt.datetime.strptime(expiry, "%Y%m%d").replace(
        hour=13, minute=30, tzinfo=dt.UTC).timestamp()
    tau = np.maximum(exp - np.asarray(ts, dtype=float), 0.0) / 86400.0
    out = VX_MEAN + (log_vix - VX_MEAN) * np.exp(-tau / VX_DECAY_DAYS)
    return float(out) if np.ndim(out) == 0 else out


class Market:
    """Prices, quotes and bars for every instrument of the universe."""

    def __init__(self, universe: Universe, seed: int) -> None:
        self.universe = universe
        self.seed = seed
        self.daily = DailyModel(universe, seed)
        self._spy = universe.by_symbol("SPY")
        self._vix = universe.by_con_id(VIX_CON_ID)
        self.overrides: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._quotes: dict[int, tuple[tuple[int, int], Quote]] = {}

    # ---- intraday paths -------------------------------------------------------------
    @functools.lru_cache(maxsize=64)  # noqa: B019 -- one Market per process
    def _noise(self, day: int, stream: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, day, stream, 3])
        w = np.concatenate([[0.0], np.cumsum(rng.standard_normal(STEPS)) / math.sqrt(STEPS)])
        bridge: np.ndarray = w - np.linspace(0.0, 1.0, STEPS + 1) * w[-1]
        return bridge

    # A path is 135 KB. Quotes and bars need today's (and at night yesterday's) of each
    # instrument streamed, ~60 for the shipped strategies; 512 held 70 MB once a run had
    # touched that many (instrument, day) pairs, which a long run does in some weeks.
    @functools.lru_cache(maxsize=PATH_CACHE)  # noqa: B019 -- one Market per process
    def log_path(self, con_id: int, day: int) -> np.ndarray:
        """Log prices at 5 s steps over synthetic day `day`: STEPS + 1 points, the
        first at the previous close and the last at this day's close."""
        inst = self.universe.by_con_id(con_id)
        if inst is None:
            raise KeyError(con_id)
        if inst.con_id == SPX_CON_ID:
            assert self._spy is not None
            return self.log_path(self._spy.con_id, day) + math.log(10.0)
        if inst.sec_type == "FUT":
            assert self._vix is not None
            x = self.log_path(self._vix.con_id, day)
            t0 = day_start(EPOCH_DAY + dt.timedelta(days=day))
            ts = t0 + np.arange(STEPS + 1) * STEP
            return np.asarray(future_log_price(inst.expiry, x, ts))
        lin = np.linspace(0.0, 1.0, STEPS + 1)
        c0 = self.daily.log_close(inst, day - 1)
        c1 = self.daily.log_close(inst, day)
        base = c0 + (c1 - c0) * lin
        if inst.con_id == PCR_CON_ID:
            return base
        m = self._noise(day, 0)
        if inst.con_id == VIX_CON_ID:
            return base + 0.07 * (-0.75 * m + 0.66 * self._noise(day, 1))
        if inst.con_id == VIX3M_CON_ID:
            vix = self.log_path(VIX_CON_ID, day)
            v0 = self.daily.log_close(self._vix_inst(), day - 1)
            v1 = self.daily.log_close(self._vix_inst(), day)
            out: np.ndarray = base + 0.55 * (vix - (v0 * (1 - lin) + v1 * lin))
            return out
        sd = inst.vol / math.sqrt(252)
        sector = self.daily.sectors.index(inst.sector) + 10
        noise = (inst.beta * MARKET_VOL / max(inst.vol, 1e-9)) * m + 0.3 * self._noise(day, sector)
        noise = noise + 0.7 * self._noise(day, 1000 + self.daily.row[inst.con_id])
        return base + 0.6 * sd * noise

    def _vix_inst(self) -> Instrument:
        assert self._vix is not None
        return self._vix

    def _stored(self, inst: Instrument) -> tuple[str, tuple[np.ndarray, np.ndarray]] | None:
        """The stored series that replaces `inst`'s synthetic prices (1-minute bars first)."""
        if inst.sec_type == "FUT":
            return None
        for size in ("1min", "1d"):
            series = self.overrides.get((inst.symbol, size))
            if series is not None and len(series[0]):
                return size, series
        return None

    def _continuation(self, inst: Instrument) -> tuple[float, float]:
        """(end of the stored history, factor): past its last stored bar an instrument follows
        its synthetic path scaled to join the last stored close, so prices keep moving."""
        stored = self._stored(inst)
        assert stored is not None
        size, (times, values) = stored
        end = float(times[-1]) + (60.0 if size == "1min" else 86400.0)
        return end, float(values[-1, 3]) / self._synthetic_mid(inst, end)

    def _override_price(self, inst: Instrument, ts: float) -> float | None:
        stored = self._stored(inst)
        if stored is None:
            return None
        times, values = stored[1]
        i = int(np.searchsorted(times, ts, side="right")) - 1
        if i < 0:
            return None  # before the stored history: synthetic
        end, factor = self._continuation(inst)
        return float(values[i, 3]) if ts < end else self._synthetic_mid(inst, ts) * factor

    def mid(self, inst: Instrument, ts: float) -> float:
        if self.overrides:
            replayed = self._override_price(inst, ts)
            if replayed is not None:
                return replayed
        return self._synthetic_mid(inst, ts)

    def _synthetic_mid(self, inst: Instrument, ts: float) -> float:
        day = day_of(ts)
        path = self.log_path(inst.con_id, day_index(day))
        pos = (ts - day_start(day)) / STEP
        i = min(int(pos), STEPS - 1)
        frac = pos - i
        return math.exp(path[i] * (1 - frac) + path[i + 1] * frac)

    def _half_spread(self, inst: Instrument, price: float) -> float:
        ticks = max(1, round(price * 0.0001 / inst.min_tick))
        return ticks * inst.min_tick / 2

    def quote(self, inst: Instrument, ts: float) -> Quote:
        """The quote during the quarter second that contains `ts` (cached)."""
        key = (inst.con_id, int(ts * 4))
        cached = self._quotes.get(inst.con_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        q = self._quote(inst, ts)
        self._quotes[inst.con_id] = (key, q)
        return q

    def _quote(self, inst: Instrument, ts: float) -> Quote:
        mid = self.mid(inst, ts)
        tick = inst.min_tick
        step = int(ts * 4)
        h = _mix(self.seed, inst.con_id, step)
        half = self._half_spread(inst, mid)
        bid = round_tick(mid - half, tick)
        ask = round_tick(max(bid + tick, mid + half), tick)
        if inst.sec_type == "IND":
            last = round_tick(mid, tick)
            return Quote(last, last, last, 0.0, 0.0, 0.0, 0.0, *self._day_stats(inst, ts, mid))
        last = ask if h & 1 else bid
        lot = 100.0 if inst.sec_type == "STK" else 1.0
        bid_size = lot * (1 + (h >> 8) % 30)
        ask_size = lot * (1 + (h >> 16) % 30)
        last_size = lot * (1 + (h >> 24) % 5)
        volume = self.volume_until(inst, ts)
        return Quote(bid, ask, last, bid_size, ask_size, last_size, volume,
                     *self._day_stats(inst, ts, mid))

    def _day_stats(self, inst: Instrument, ts: float, mid: float,
                   ) -> tuple[float, float, float, float]:
        day = day_of(ts)
        path = self.log_path(inst.con_id, day_index(day))
        first = self._open_idx(inst, day)
        upto = max(first + 1, int((ts - day_start(day)) / STEP) + 1)
        seg = path[first:upto] if upto > first else path[:1]
        o = math.exp(seg[0])
        hi = max(math.exp(float(seg.max())), mid)
        lo = min(math.exp(float(seg.min())), mid)
        prev = math.exp(path[0])
        t = inst.min_tick
        return round_tick(o, t), round_tick(hi, t), round_tick(lo, t), round_tick(prev, t)

    def _open_idx(self, inst: Instrument, day: dt.date) -> int:
        """Index in `day`'s path of its session's open (14:30 UTC when it has none)."""
        session = calendar_of(inst).on(day)
        if session is None:
            return RTH_START_IDX
        return int(min(max((session.open - day_start(day)) // STEP, 0), STEPS - 1))

    # ---- volume ---------------------------------------------------------------------
    def day_volume(self, inst: Instrument, day: int) -> float:
        if inst.daily_volume <= 0:
            return 0.0
        h = _mix(self.seed, inst.con_id, day, 5)
        noise = 0.7 + (h % 1000) / 1000 * 0.6
        move = abs(float(self.daily.market[min(day, self.daily.market.size - 1)]))
        return float(round(inst.daily_volume * noise * (1 + 0.3 * move)))

    def volume_until(self, inst: Instrument, ts: float) -> float:
        """The volume of the session under way at `ts` (from its extended hours' start) so far;
        the last session's whole volume while none is under way, as IB's quotes show it."""
        session = calendar_of(inst).last_started(ts, rth=False)
        if session is None:
            return 0.0
        frac = volume_profile((ts - session.open) / (session.close - session.open))
        return float(int(self.day_volume(inst, day_index(session.day)) * frac / 100) * 100)

    # ---- bars -----------------------------------------------------------------------
    def intraday_bars(self, inst: Instrument, start: float, end: float, seconds: int,
                      what: str, rth_only: bool = False, complete_only: bool = False,
                      ) -> list[Bar]:
        """Bars of `seconds` covering [start, end) inside the sessions' regular (`rth_only`) or
        extended hours: none outside them, none on a day without a session. Bars are aligned
        to multiples of `seconds`, clipped to the session and stamped with their start (RTH
        hourly bars: 09:30, 10:00, ... as IB gives them). A bar that `end` cuts (the forming
        bar) is built from [its start, end) only, no look-ahead; `complete_only` drops it."""
        bars: list[Bar] = []
        fine = seconds < STEP
        for session in calendar_of(inst).overlapping(start, end, rth_only):
            open_, close = session.window(rth_only)
            t = math.floor(max(start, open_) / seconds) * seconds
            while t < min(end, close):
                t0, t1 = max(t, open_), min(t + seconds, close)
                cut = min(t1, end)
                if complete_only and cut < t1:
                    break
                bar = self._bar(inst, t0, cut, what, fine or cut - t0 < STEP)
                if bar is not None:
                    bars.append(bar)
                t += seconds
        return bars

    def in_rth(self, inst: Instrument, ts: float) -> bool:
        """Whether `ts` falls in the regular hours of a session of `inst`'s exchange."""
        return calendar_of(inst).in_hours(ts, rth=True)

    def _in_rth(self, ts: float) -> bool:
        """Whether `ts` falls in the regular hours of a New York (XNYS) session."""
        return calendar("XNYS").in_hours(ts, rth=True)

    def sessions_back(self, inst: Instrument, end: float, n: int, rth_only: bool) -> float:
        """Where an "N D" request ending at `end` starts: N sessions back, as IB counts."""
        return calendar_of(inst).sessions_back(end, n, rth_only)

    def _points(self, inst: Instrument, t0: float, t1: float) -> np.ndarray:
        out = []
        day = day_of(t0)
        while day_start(day) < t1:
            path = self.log_path(inst.con_id, day_index(day))
            s = day_start(day)
            i0 = max(0, math.ceil((t0 - s) / STEP))
            i1 = min(STEPS, math.floor((t1 - s) / STEP))
            if i1 >= i0:
                out.append(path[i0:i1 + 1])
            day = day + dt.timedelta(days=1)
        return np.exp(np.concatenate(out)) if out else np.zeros(0)

    def _bar(self, inst: Instrument, t0: float, t1: float, what: str, fine: bool) -> Bar | None:
        if fine:
            pts = np.array([self.mid(inst, t0), self.mid(inst, t1)])
        elif self.overrides and self._stored(inst) is not None:
            pts = np.array([self.mid(inst, t) for t in np.arange(t0, t1 + STEP / 2, STEP)])
        else:
            pts = self._points(inst, t0, t1)
            if pts.size == 0:
                return None
            pts = np.concatenate([[self.mid(inst, t0)], pts])
        o, hi, lo, c = self.bar_prices(inst, t0, float(pts[0]), float(pts.max()),
                                       float(pts.min()), float(pts[-1]), what)
        volume = -1.0
        count = -1
        if what in ("TRADES", "ADJUSTED_LAST") and inst.sec_type != "IND":
            share = self._volume_share(inst, t0, t1)
            session = calendar_of(inst).last_started(t0, rth=False)
            day = session.day if session is not None else day_of(t0)
            volume = float(int(self.day_volume(inst, day_index(day)) * share / 100))
            count = max(1, int(volume / 7)) if volume > 0 else 0
        elif inst.sec_type == "IND":
            volume, count = 0.0, 0
        wap = round((o + hi + lo + c) / 4, 4)
        return Bar(t0, o, hi, lo, c, volume, wap, count)

    def bar_prices(self, inst: Instrument, t0: float, o: float, top: float, bottom: float,
                   c: float, what: str) -> tuple[float, float, float, float]:
        """A bar's open, high, low and close from the mid path's open, extremes and close:
        a seeded wiggle of the extremes, the spread for BID/ASK/BID_ASK, ticks rounded."""
        h = _mix(self.seed, inst.con_id, int(t0), 9)
        wiggle = 1 + ((h % 1000) / 1000) * 0.0002
        hi, lo = top * wiggle, bottom / wiggle
        half = self._half_spread(inst, c)
        if what == "BID":
            o, hi, lo, c = o - half, hi - half, lo - half, c - half
        elif what == "ASK":
            o, hi, lo, c = o + half, hi + half, lo + half, c + half
        elif what == "BID_ASK":
            o, hi, lo, c = o - half, hi + half, lo - half, c + half
        tick = inst.min_tick
        o, hi, lo, c = (round_tick(v, tick) for v in (o, hi, lo, c))
        return o, max(hi, o, c), min(lo, o, c), c

    def _volume_share(self, inst: Instrument, t0: float, t1: float) -> float:
        """The part of its session's volume that trades in [t0, t1): it all trades in the
        regular hours, along the U-shaped profile, each 5 minutes at its own level (now and
        then a burst), so volume-confirmed signals happen as on a real tape."""
        session = calendar_of(inst).last_started(t0, rth=False)
        if session is None:
            return 0.0
        lo, hi = max(t0, session.open), min(t1, session.close)
        span = session.close - session.open
        share = 0.0
        b = math.floor(lo / VOLUME_BUCKET) * VOLUME_BUCKET
        while b < hi:
            a0, a1 = max(lo, b), min(hi, b + VOLUME_BUCKET)
            share += (volume_profile((a1 - session.open) / span)
                      - volume_profile((a0 - session.open) / span)) * self._burst(inst, b)
            b += VOLUME_BUCKET
        return share

    def _burst(self, inst: Instrument, bucket: float) -> float:
        """The volume level of the 5 minutes from `bucket`: 1 on average."""
        h = _mix(self.seed, inst.con_id, int(bucket), 13)
        level = 0.6 + 0.8 * (h % 10000) / 10000
        burst = BURST_SIZE if (h >> 20) % BURST_ODDS == 0 else 1.0
        return level * burst / (1 + (BURST_SIZE - 1) / BURST_ODDS)

    def daily_bars(self, inst: Instrument, end_day: dt.date, n_days: int, what: str,
                   now: float) -> list[Bar]:
        """Daily bars for the sessions in (end_day - n_days, end_day]; today's bar is
        built from the intraday path up to `now`."""
        series = self.overrides.get((inst.symbol, "1d"))
        if series is not None and inst.sec_type != "FUT":
            end, factor = self._continuation(inst)
            today = day_of(now)
            midnight = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp()
            # today's bar is built from quotes, which are scaled already
            later = [_scaled(b, factor) if b.time < midnight else b
                     for b in self._synthetic_daily_bars(inst, end_day, n_days, what, now)
                     if b.time >= end]
            return _replayed_bars(series, end_day, n_days) + later
        return self._synthetic_daily_bars(inst, end_day, n_days, what, now)

    def _synthetic_daily_bars(self, inst: Instrument, end_day: dt.date, n_days: int, what: str,
                              now: float) -> list[Bar]:
        hi_idx = day_index(end_day) + 1
        lo_idx = max(1, hi_idx - n_days)
        today = day_of(now)
        if inst.sec_type == "FUT":
            assert self._vix is not None
            xs = self.daily.log_closes(self._vix, lo_idx - 1, hi_idx)
            days = [EPOCH_DAY + dt.timedelta(days=i) for i in range(lo_idx - 1, hi_idx)]
            ts = np.array([day_start(d) + 86400 for d in days])
            closes = np.exp(np.asarray(future_log_price(inst.expiry, xs, ts)))
        else:
            base = inst if inst.con_id != SPX_CON_ID else self._spy
            assert base is not None
            closes = np.exp(self.daily.log_closes(base, lo_idx - 1, hi_idx))
            if inst.con_id == SPX_CON_ID:
                closes = closes * 10.0
        bars: list[Bar] = []
        sd = max(inst.vol, 0.1) / math.sqrt(252)
        tick = inst.min_tick
        cal = calendar_of(inst)
        for k, idx in enumerate(range(lo_idx, hi_idx)):
            day = EPOCH_DAY + dt.timedelta(days=idx)
            if not cal.is_session(day) or day > today:
                continue
            t = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
            if day == today:
                q = self.quote(inst, now)
                o, hi, lo, c = q.open, q.high, q.low, q.last
                vol = q.volume
            else:
                prev, c = float(closes[k]), float(closes[k + 1])
                h = _mix(self.seed, inst.con_id, idx, 11)
                u1, u2, u3 = (((h >> s) % 10000) / 10000 for s in (0, 16, 32))
                o = prev * math.exp((u1 - 0.5) * sd * 0.6) if inst.con_id != PCR_CON_ID else c
                hi = max(o, c) * math.exp(u2 * sd * 0.8)
                lo = min(o, c) * math.exp(-u3 * sd * 0.8)
                vol = self.day_volume(inst, idx)
            if what == "BID":
                o, hi, lo, c = (v - self._half_spread(inst, v) for v in (o, hi, lo, c))
            elif what == "ASK":
                o, hi, lo, c = (v + self._half_spread(inst, v) for v in (o, hi, lo, c))
            o, hi, lo, c = (round_tick(v, tick) for v in (o, hi, lo, c))
            hi, lo = max(hi, o, c), min(lo, o, c)
            if what not in ("TRADES", "ADJUSTED_LAST") or inst.sec_type == "IND":
                vol = -1.0 if inst.sec_type != "IND" else 0.0
            count = max(0, int(vol / 7)) if vol > 0 else (0 if vol == 0 else -1)
            bars.append(Bar(t, o, hi, lo, c, float(vol), round((o + hi + lo + c) / 4, 4), count))
        if what in ("HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"):
            return _volatility_bars(bars, 1.1 if what.startswith("OPTION") else 1.0)
        return bars


def _replayed_bars(series: tuple[np.ndarray, np.ndarray], end_day: dt.date,
                   n_days: int) -> list[Bar]:
    times, values = series
    end = dt.datetime(end_day.year, end_day.month, end_day.day,
                      tzinfo=dt.UTC).timestamp() + 86400
    mask = (times < end) & (times >= end - n_days * 86400)
    return [Bar(float(t), float(v[0]), float(v[1]), float(v[2]), float(v[3]), float(v[4]),
                round(float(v[:4].mean()), 4), max(0, int(v[4] / 7)))
            for t, v in zip(times[mask], values[mask], strict=True)]


def _scaled(bar: Bar, factor: float) -> Bar:
    return Bar(bar.time, bar.open * factor, bar.high * factor, bar.low * factor,
               bar.close * factor, bar.volume, round(bar.wap * factor, 4), bar.count)


def _volatility_bars(bars: list[Bar], factor: float) -> list[Bar]:
    out = []
    closes = [b.close for b in bars]
    for i, b in enumerate(bars):
        window = closes[max(0, i - 30):i + 1]
        if len(window) < 3:
            continue
        rets = np.diff(np.log(np.array(window)))
        v = round(float(np.std(rets) * math.sqrt(252) * factor), 6)
        out.append(Bar(b.time, v, v, v, v, -1.0, v, -1))
    return out
