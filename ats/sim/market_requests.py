"""Market data requests: reqMktData (streaming and snapshot), tick-by-tick, market depth and
its exchanges; and `stream`, the tick loop's pass over one session's subscriptions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from ats.sim import depth
from ats.sim import messages as M
from ats.sim import versions as V
from ats.sim.market import Quote
from ats.sim.messages import Tick
from ats.sim.protocol import ContractSpec, Reader
from ats.sim.subscriptions import DepthSub, MktSub, TickByTickSub
from ats.sim.universe import Instrument

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session

TBT_KINDS = {"LAST": 1, "ALLLAST": 2, "BIDASK": 3, "MIDPOINT": 4}
_NO_DEPTH = "Deep market data is not supported for this combination of security/exchange"


def stream(s: Session, quote: Callable[[Instrument], Quote], now: float) -> None:
    """One tick-loop pass over a session's market data, tick-by-tick and depth
    subscriptions: each sends what changed since the last pass."""
    for req_id, sub in list(s.mkt.items()):
        send_ticks(s, req_id, sub, quote(sub.inst))
    for req_id, tsub in list(s.tbt.items()):
        send_tick_by_tick(s, req_id, tsub, quote(tsub.inst), now)
    for req_id, dsub in list(s.depth.items()):
        send_depth(s, req_id, dsub, quote(dsub.inst))


# ---- market data ------------------------------------------------------------------------

def req_mkt_data(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    spec = r.contract()
    if spec.sec_type == "BAG":
        n = r.int()
        r.skip(4 * n)
    if r.bool():
        r.skip(3)
    r.str()  # generic tick list
    snapshot = r.bool()
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    sub = MktSub(inst)
    s.send(M.market_data_type(req_id, 1))
    q = srv.market.quote(inst, srv.clock.timestamp())
    if snapshot:
        send_ticks(s, req_id, sub, q)
        s.send(M.tick_snapshot_end(req_id))
        return
    s.mkt[req_id] = sub
    send_ticks(s, req_id, sub, q)


def cancel_mkt_data(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.mkt.pop(r.int(), None)


def req_market_data_type(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    r.int()


def _ticks(inst: Instrument, q: Quote) -> list[tuple[int, float, float]]:
    """(tickType, price, size) for price ticks; size ticks have price NaN."""
    nan = math.nan
    if inst.sec_type == "IND":
        return [(Tick.LAST, q.last, 0.0), (Tick.HIGH, q.high, 0.0), (Tick.LOW, q.low, 0.0),
                (Tick.CLOSE, q.close, 0.0), (Tick.OPEN, q.open, 0.0)]
    return [(Tick.BID, q.bid, q.bid_size), (Tick.ASK, q.ask, q.ask_size),
            (Tick.LAST, q.last, q.last_size), (Tick.VOLUME, nan, q.volume),
            (Tick.HIGH, q.high, 0.0), (Tick.LOW, q.low, 0.0), (Tick.CLOSE, q.close, 0.0),
            (Tick.OPEN, q.open, 0.0)]


def send_ticks(s: Session, req_id: int, sub: MktSub, q: Quote) -> int:
    """tickPrice and tickSize for what changed since the subscription's last; how many."""
    sent = 0
    for tick_type, price, size in _ticks(sub.inst, q):
        key_value = size if math.isnan(price) else price * 1e9 + size
        if sub.last.get(tick_type) == key_value:
            continue
        sub.last[tick_type] = key_value
        if math.isnan(price):
            s.send(M.tick_size(req_id, tick_type, size, s.version))
        else:
            s.send(M.tick_price(req_id, tick_type, price, size, s.version))
        sent += 1
    return sent


# ---- tick by tick -----------------------------------------------------------------------

def req_tick_by_tick(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    spec = r.contract()
    kind = TBT_KINDS.get(r.str().upper())
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    if kind is None:
        s.error(req_id, 10189, "Failed to request tick-by-tick data:Invalid tick type")
        return
    sub = TickByTickSub(inst, kind)
    s.tbt[req_id] = sub
    now = srv.clock.timestamp()
    send_tick_by_tick(s, req_id, sub, srv.market.quote(inst, now), now)


def cancel_tick_by_tick(srv: Server, s: Session, r: Reader) -> None:
    s.tbt.pop(r.int(), None)


def send_tick_by_tick(s: Session, req_id: int, sub: TickByTickSub, q: Quote,
                      now: float) -> None:
    if sub.kind in (1, 2):
        key: tuple[float, ...] = (q.last, q.volume)
        if key != sub.last and q.last > 0:
            s.send(M.tick_by_tick_last(req_id, sub.kind, now, q.last, q.last_size,
                                       sub.inst.primary_exchange, s.version))
    elif sub.kind == 3:
        key = (q.bid, q.ask, q.bid_size, q.ask_size)
        if key != sub.last and q.bid > 0:
            s.send(M.tick_by_tick_bid_ask(req_id, now, q.bid, q.ask, q.bid_size, q.ask_size,
                                          s.version))
    else:
        key = ((q.bid + q.ask) / 2,)
        if key != sub.last and q.bid > 0:
            s.send(M.tick_by_tick_mid(req_id, now, round(key[0], 10)))
    sub.last = key


# ---- market depth -----------------------------------------------------------------------

def req_mkt_depth(srv: Server, s: Session, r: Reader) -> None:
    r.skip()  # message version
    req_id = r.int()
    if s.version >= V.MKT_DEPTH_PRIM_EXCHANGE:
        spec = r.contract()
    else:
        spec = ContractSpec(r.int(), r.str(), r.str(), r.str(), r.str(), r.str(), r.str(),
                            r.str(), "", r.str(), r.str(), r.str())
    rows = r.int(depth.MAX_ROWS)
    smart = r.bool() if s.version >= V.SMART_DEPTH else False
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    if not inst.tradable:
        s.error(req_id, 10092, _NO_DEPTH)
        return
    sub = DepthSub(inst, rows, smart)
    s.depth[req_id] = sub
    send_depth(s, req_id, sub, srv.market.quote(inst, srv.clock.timestamp()))


def cancel_mkt_depth(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.depth.pop(r.int(), None)


def send_depth(s: Session, req_id: int, sub: DepthSub, q: Quote) -> None:
    if math.isnan(q.bid) or q.bid <= 0:
        return
    new = depth.book(q, sub.rows, sub.inst.min_tick)
    for op, lv in depth.changes(sub.levels, new):
        if sub.smart:
            maker = depth.MAKERS[lv.position % len(depth.MAKERS)]
            s.send(M.market_depth_l2(req_id, lv.position, maker, op, lv.side, lv.price,
                                     lv.size, True, s.version))
        else:
            s.send(M.market_depth(req_id, lv.position, op, lv.side, lv.price, lv.size,
                                  s.version))
    sub.levels = new


def req_mkt_depth_exchanges(srv: Server, s: Session, r: Reader) -> None:
    rows = [("SMART", "STK", ""), ("ARCA", "STK", "ARCA"), ("NASDAQ", "STK", "NASDAQ"),
            ("CFE", "FUT", "CFE")]
    s.send(M.mkt_depth_exchanges(rows, s.version))
