"""Handlers beyond the system's core requests: matching symbols, option parameters,
tick-by-tick, market depth, the requests answered with an empty result, and the refusals
of `unsupported.py`. Registered into the server's HANDLERS table like the core ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ats.sim import depth
from ats.sim import messages as M
from ats.sim import versions as V
from ats.sim.market import Quote
from ats.sim.protocol import ContractSpec, Reader
from ats.sim.universe import Instrument
from ats.sim.unsupported import IGNORED, REFUSED, refusal_req_id

if TYPE_CHECKING:
    from ats.sim.server import Server, Session

MAX_SYMBOL_SAMPLES = 16  #: IB answers reqMatchingSymbols with at most 16 descriptions
TBT_KINDS = {"LAST": 1, "ALLLAST": 2, "BIDASK": 3, "MIDPOINT": 4}
_NO_DEPTH = "Deep market data is not supported for this combination of security/exchange"


@dataclass
class TickByTickSub:
    inst: Instrument
    kind: int  #: 1 Last, 2 AllLast, 3 BidAsk, 4 MidPoint
    last: tuple[float, ...] = ()  #: what was sent last, to send changes only


@dataclass
class DepthSub:
    inst: Instrument
    rows: int
    smart: bool
    levels: list[depth.Level] = field(default_factory=list)


# ---- matching symbols and option parameters -------------------------------------------

def matching(instruments: list[Instrument], pattern: str) -> list[Instrument]:
    """Listed stocks and indices whose symbol starts with, or whose name contains, the
    pattern: symbol matches first, as IB orders them."""
    p = pattern.strip().upper()
    if not p:
        return []
    base = [i for i in instruments if i.sec_type in ("STK", "IND")]
    first = [i for i in base if i.symbol.startswith(p)]
    rest = [i for i in base if i not in first and p in i.long_name.upper()]
    return (sorted(first, key=lambda i: (len(i.symbol), i.symbol)) + rest)[:MAX_SYMBOL_SAMPLES]


def _req_matching_symbols(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    pattern = r.str()
    found = matching(srv.universe.all(srv.clock.today()), pattern)
    s.send(M.symbol_samples(req_id, found, s.version))


def _req_sec_def_opt_params(srv: Server, s: Session, r: Reader) -> None:
    """The venue lists no options: the answer is the end message alone."""
    req_id = r.int()
    s.send(M.sec_def_opt_params_end(req_id))


# ---- tick by tick ---------------------------------------------------------------------

def _req_tick_by_tick(srv: Server, s: Session, r: Reader) -> None:
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


def _cancel_tick_by_tick(srv: Server, s: Session, r: Reader) -> None:
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


# ---- market depth ---------------------------------------------------------------------

def _req_mkt_depth(srv: Server, s: Session, r: Reader) -> None:
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


def _cancel_mkt_depth(srv: Server, s: Session, r: Reader) -> None:
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


def stream(s: Session, quote: Callable[[Instrument], Quote], now: float) -> None:
    """One tick-loop pass over a session's tick-by-tick and depth subscriptions."""
    for req_id, tsub in list(s.tbt.items()):
        send_tick_by_tick(s, req_id, tsub, quote(tsub.inst), now)
    for req_id, dsub in list(s.depth.items()):
        send_depth(s, req_id, dsub, quote(dsub.inst))


# ---- requests answered with an empty (or fixed) result ---------------------------------

def _req_mkt_depth_exchanges(srv: Server, s: Session, r: Reader) -> None:
    rows = [("SMART", "STK", ""), ("ARCA", "STK", "ARCA"), ("NASDAQ", "STK", "NASDAQ"),
            ("CFE", "FUT", "CFE")]
    s.send(M.mkt_depth_exchanges(rows, s.version))


def _req_scanner_parameters(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.scanner_parameters('<?xml version="1.0" encoding="UTF-8"?>'
                                "<ScanParameterResponse/>"))


def _req_soft_dollar_tiers(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.soft_dollar_tiers(r.int()))


def _req_family_codes(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.family_codes([(acct, "") for acct in srv.venue.account_names]))


def _req_smart_components(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.smart_components(r.int()))


def _req_news_providers(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.news_providers())


def _req_market_rule(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.market_rule(r.int(), 0.01))


def _req_user_info(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.user_info(r.int()))


# ---- refusals and ignored requests ------------------------------------------------------

def refuse(srv: Server, s: Session, msg_id: int, fields: list[str]) -> bool:
    """Answer a request of `unsupported.py`; False if the id is in neither table."""
    if msg_id in IGNORED:
        return True
    refusal = REFUSED.get(msg_id)
    if refusal is None:
        return False
    s.error(refusal_req_id(refusal, fields, s.version), refusal.code,
            refusal.text.format(name=refusal.name))
    return True


Handler = Callable[["Server", "Session", Reader], None]

HANDLERS: dict[int, Handler] = {
    10: _req_mkt_depth,
    11: _cancel_mkt_depth,
    24: _req_scanner_parameters,
    78: _req_sec_def_opt_params,
    79: _req_soft_dollar_tiers,
    80: _req_family_codes,
    81: _req_matching_symbols,
    82: _req_mkt_depth_exchanges,
    83: _req_smart_components,
    85: _req_news_providers,
    91: _req_market_rule,
    97: _req_tick_by_tick,
    98: _cancel_tick_by_tick,
    104: _req_user_info,
}
