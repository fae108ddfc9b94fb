"""Real-time (5-second) bars of a whole interval at once, for the stepped clock.

`realtime_bars` returns exactly what `Market.intraday_bars(inst, start, end, 5, what, rth,
complete_only=True)` returns, but reads each day's 5-second path once instead of once a bar:
a stepped advance over one session of extended hours is 11,520 bars per subscription, and the
bar-at-a-time path costs ~150 us a bar. Every 5-second bar lies on the path's own grid (STEP is
5 s and sessions open on it), so its open and close are two neighbouring path points.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np

from ats.sim.market import (
    STEP,
    Bar,
    Market,
    calendar_of,
    day_index,
    day_of,
    day_start,
    volume_profile,
)
from ats.sim.universe import Instrument

SECONDS = 5  #: reqRealTimeBars delivers 5-second bars only


def realtime_bars(market: Market, inst: Instrument, start: float, end: float, what: str,
                  rth: bool) -> list[Bar]:
    """The complete 5-second bars in [start, end) inside `inst`'s sessions (regular hours
    only with `rth`), stamped with their start."""
    bars: list[Bar] = []
    stored = bool(market.overrides) and market._stored(inst) is not None
    for session in calendar_of(inst).overlapping(start, end, rth):
        open_, close = session.window(rth)
        t = math.floor(max(start, open_) / SECONDS) * SECONDS
        last = min(end, close)
        if t + SECONDS > last:
            continue
        starts = np.arange(t, last - SECONDS + 1, SECONDS, dtype=float)
        if stored:
            points = _stored_points(market, inst, starts)
        else:
            points = _path_points(market, inst, starts)
        volume = _Volume(market, inst, float(starts[0])) if _has_volume(inst, what) else None
        for t0, (o, top, bottom, c) in zip(starts.tolist(), points, strict=True):
            bars.append(_bar(market, inst, t0, o, top, bottom, c, what, volume))
    return bars


def _has_volume(inst: Instrument, what: str) -> bool:
    return what in ("TRADES", "ADJUSTED_LAST") and inst.sec_type != "IND"


Points = list[tuple[float, float, float, float]]  #: per bar: open, highest, lowest, close


def _path_points(market: Market, inst: Instrument, starts: np.ndarray) -> Points:
    """Each bar's points from the synthetic path, as `Market._bar` takes them:
    [mid(t0), path[k], path[k + 1]]."""
    out: Points = []
    for day, ks in _by_day(starts):
        path = market.log_path(inst.con_id, day_index(day))
        exps = np.exp(path)
        for k in ks:
            o = math.exp(float(path[k]))
            a, b = float(exps[k]), float(exps[k + 1])
            out.append((o, max(o, a, b), min(o, a, b), b))
    return out


def _stored_points(market: Market, inst: Instrument, starts: np.ndarray) -> Points:
    """Each bar's points from a stored series: the mids at t0 and t0 + 5 s."""
    mids = _grid_mids(market, inst, np.concatenate([starts, starts[-1:] + SECONDS]))
    return [(o, max(o, c), min(o, c), c) for o, c in itertools.pairwise(mids)]


def _grid_mids(market: Market, inst: Instrument, ts: np.ndarray) -> list[float]:
    """`Market.mid` at instants on the 5-second grid."""
    stored = market._stored(inst)
    assert stored is not None
    times, values = stored[1]
    end, factor = market._continuation(inst)
    idx = np.searchsorted(times, ts, side="right") - 1
    synthetic: dict[int, np.ndarray] = {}
    out: list[float] = []
    for t, i in zip(ts.tolist(), idx.tolist(), strict=True):
        if i >= 0 and t < end:
            out.append(float(values[i, 3]))
            continue
        day = day_of(t)
        path = synthetic.get(day.toordinal())
        if path is None:
            path = synthetic[day.toordinal()] = market.log_path(inst.con_id, day_index(day))
        k = int((t - day_start(day)) / STEP)
        mid = math.exp(float(path[k]) * 1.0 + float(path[k + 1]) * 0.0)
        out.append(mid if i < 0 else mid * factor)
    return out


def _by_day(starts: np.ndarray) -> list[tuple[dt.date, list[int]]]:
    """Group bar starts by synthetic day, with each one's index in that day's path."""
    groups: list[tuple[dt.date, list[int]]] = []
    current: dt.date | None = None
    s0 = 0.0
    for t in starts.tolist():
        day = day_of(t)
        if day != current:
            current, s0 = day, day_start(day)
            groups.append((day, []))
        groups[-1][1].append(int((t - s0) / STEP))
    return groups


class _Volume:
    """The volume of 5-second bars of one session, as `Market._bar` computes it bar by bar."""

    def __init__(self, market: Market, inst: Instrument, t0: float) -> None:
        self.market, self.inst = market, inst
        self.session = calendar_of(inst).last_started(t0, rth=False)
        self.day_volume = (market.day_volume(inst, day_index(self.session.day))
                           if self.session is not None else 0.0)

    def of(self, t0: float) -> tuple[float, int]:
        s = self.session
        share = 0.0
        if s is not None:
            lo, hi = max(t0, s.open), min(t0 + SECONDS, s.close)
            span = s.close - s.open
            b = math.floor(lo / 300) * 300
            while b < hi:
                a0, a1 = max(lo, b), min(hi, b + 300)
                share += (volume_profile((a1 - s.open) / span)
                          - volume_profile((a0 - s.open) / span)) * self.market._burst(
                              self.inst, b)
                b += 300
        volume = float(int(self.day_volume * share / 100))
        return volume, (max(1, int(volume / 7)) if volume > 0 else 0)


def _bar(market: Market, inst: Instrument, t0: float, o: float, top: float, bottom: float,
         c: float, what: str, volume: _Volume | None) -> Bar:
    """`Market._bar`'s arithmetic for one bar whose points are known."""
    o, hi, lo, c = market.bar_prices(inst, t0, o, top, bottom, c, what)
    vol, count = -1.0, -1
    if volume is not None:
        vol, count = volume.of(t0)
    elif inst.sec_type == "IND":
        vol, count = 0.0, 0
    wap = round((o + hi + lo + c) / 4, 4)
    return Bar(t0, o, hi, lo, c, vol, wap, count)
