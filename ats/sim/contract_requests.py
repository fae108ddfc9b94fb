"""Contract requests: contract details, matching symbols, and the fixed answers about option
parameters, SMART components and market rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ats.sim import messages as M
from ats.sim.protocol import Reader
from ats.sim.universe import Instrument

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session

MAX_SYMBOL_SAMPLES = 16  #: IB answers reqMatchingSymbols with at most 16 descriptions


def req_contract_details(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    spec = r.contract()
    found = srv.resolve(spec)
    if not found:
        s.error(req_id, 200, "No security definition has been found for the request")
        return
    for inst in found:
        exch = spec.exchange.upper() if spec.exchange.upper() in inst.valid_exchanges \
            else inst.exchange
        s.send(M.contract_data(req_id, inst, exch, s.version))
    s.send(M.contract_data_end(req_id))


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


def req_matching_symbols(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    pattern = r.str()
    found = matching(srv.universe.all(srv.clock.today()), pattern)
    s.send(M.symbol_samples(req_id, found, s.version))


def req_sec_def_opt_params(srv: Server, s: Session, r: Reader) -> None:
    """The venue lists no options: the answer is the end message alone."""
    req_id = r.int()
    s.send(M.sec_def_opt_params_end(req_id))


def req_smart_components(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.smart_components(r.int()))


def req_market_rule(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.market_rule(r.int(), 0.01))
