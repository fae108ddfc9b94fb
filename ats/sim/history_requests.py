"""Bar requests: reqHistoricalData (keepUpToDate included), reqHeadTimeStamp and
reqRealTimeBars; and `advance_bars`, which sends a bar subscription the bars completed since
its last (the server's bar loop, or a stepped `advance`)."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from ats.data.pacing import HistRequest
from ats.sim import messages as M
from ats.sim.history import (
    VALID_WHAT,
    HistoryError,
    aggregate,
    bar_seconds,
    duration_seconds,
    parse_end,
)
from ats.sim.protocol import Reader
from ats.sim.subscriptions import BarSub
from ats.sim.versions import SYNT_REALTIME_BARS

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session

KEEP_UP_EVERY = 2.0  #: sim seconds between keepUpToDate updates of the forming bar
MAX_BARS_PER_PASS = 200  #: completed bars one subscription sends in one pass, at most


def req_historical_data(srv: Server, s: Session, r: Reader) -> None:
    if s.version < SYNT_REALTIME_BARS:
        r.skip()  # message version
    req_id = r.int()
    spec = r.contract()
    r.bool()  # includeExpired
    end_text = r.str()
    bar_size = r.str()
    duration = r.str()
    rth = r.bool()
    what = r.str().upper() or "TRADES"
    format_date = r.int(1)
    if spec.sec_type == "BAG":
        r.skip(4 * r.int())
    keep_up = r.bool() if s.version >= SYNT_REALTIME_BARS else False
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    if srv.farm_down or srv.outage:
        s.error(req_id, 162, "Historical Market Data Service error message:HMDS data farm "
                             "connection is broken")
        return
    try:
        if what not in VALID_WHAT:
            raise HistoryError(321, f"Error validating request:-'whatToShow' : {what!r}")
        secs = bar_seconds(bar_size)
        span, unit = duration_seconds(duration)
        now = srv.clock.timestamp()
        end = min(parse_end(end_text, now), now)
        if keep_up and end_text:
            raise HistoryError(321, "Error validating request:-'endDateTime' must be empty "
                                    "with keepUpToDate")
        srv.history_pacing.check(HistRequest(str(inst.con_id), spec.exchange, what, bar_size,
                                             duration, end_text))
        daily = secs >= 86400
        start = end - span
        if daily:
            end_day = dt.datetime.fromtimestamp(end, dt.UTC).date()
            n_days = span // 86400 if unit != "D" else int(span // 86400 * 1.5) + 3
            bars = srv.market.daily_bars(inst, end_day, max(n_days, 1), what, now)
            if unit == "D":
                bars = bars[-(span // 86400):]
            bars = aggregate(bars, secs)
        else:
            if span / secs > 100_000:
                raise HistoryError(162, "Historical Market Data Service error message:"
                                        "Time length exceed max.")
            # "N D" counts sessions back from the end (on a weekend: the last sessions)
            start = srv.market.sessions_back(inst, end, span // 86400, rth) if unit == "D" \
                else end - span
            bars = srv.market.intraday_bars(inst, start, end, secs, what, rth,
                                            complete_only=not keep_up)
    except HistoryError as exc:
        s.error(req_id, exc.code, exc.text)
        return

    def fmt_ts(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")

    s.send(M.historical_data(req_id, fmt_ts(start), fmt_ts(end), bars, daily,
                             format_date, inst.time_zone, s.version))
    if keep_up:
        nxt = (math.floor(now / secs) * secs) if not daily else now
        s.bars[req_id] = BarSub(inst, secs if not daily else 86400, what, nxt, keep_up=True,
                                daily=daily, format_date=format_date, tz=inst.time_zone,
                                rth=rth)


def cancel_historical_data(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.bars.pop(r.int(), None)


def req_head_timestamp(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    spec = r.contract()
    r.bool()  # includeExpired
    r.bool()  # useRTH
    what = r.str().upper() or "TRADES"
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    try:  # served by the same historical farm, so paced with reqHistoricalData
        srv.history_pacing.check(HistRequest(str(inst.con_id), spec.exchange, what,
                                             "head timestamp", "", ""))
    except HistoryError as exc:
        s.error(req_id, exc.code, exc.text)
        return
    s.send(M.head_timestamp(req_id, "19800102-14:30:00"))


def req_real_time_bars(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    spec = r.contract()
    size = r.int(5)
    what = r.str().upper() or "TRADES"
    rth = r.bool()
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    if size != 5:
        s.error(req_id, 321, "Error validating request:-'bar size' : only 5 second bars")
        return
    now = srv.clock.timestamp()
    s.bars[req_id] = BarSub(inst, 5, what, math.floor(now / 5) * 5, rth=rth)


def cancel_real_time_bars(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.bars.pop(r.int(), None)


def advance_bars(srv: Server, s: Session, req_id: int, sub: BarSub, now: float) -> None:
    """Send the bars of `sub` completed by `now`: realtimeBar, or historicalDataUpdate for
    keepUpToDate, which also gets the forming bar every KEEP_UP_EVERY sim seconds."""
    sent = 0
    while sub.next_time + sub.seconds <= now and sent < MAX_BARS_PER_PASS:
        t0 = sub.next_time
        if sub.keep_up and sub.daily:
            bars = srv.market.daily_bars(sub.inst, dt.datetime.fromtimestamp(
                now, dt.UTC).date(), 1, sub.what, now)
        else:
            bars = srv.market.intraday_bars(sub.inst, t0, t0 + sub.seconds, sub.seconds,
                                            sub.what, sub.rth)
        for bar in bars:
            if sub.keep_up:
                s.send(M.historical_data_update(req_id, bar, sub.daily, sub.format_date,
                                                sub.tz, s.version))
            else:
                s.send(M.real_time_bar(req_id, bar, s.version))
        sub.next_time += sub.seconds
        sent += 1
    if sub.keep_up and sent == 0 and not sub.daily and \
            now - sub.forming_sent >= KEEP_UP_EVERY:
        # The forming bar, from what has traded so far in it (intraday_bars cuts at now).
        sub.forming_sent = now
        t0 = sub.next_time
        partial = srv.market.intraday_bars(sub.inst, t0, max(now, t0 + 1), sub.seconds,
                                           sub.what, sub.rth)
        for bar in partial[:1]:
            s.send(M.historical_data_update(req_id, bar, False, sub.format_date, sub.tz,
                                            s.version))
