"""Requests (client -> server): one table from message id to handler, as ib_async's decoder
maps message ids to its parsers, and `dispatch`, which answers every frame a ready session
sends.

A handler reads its message's fields in order from a `Reader` and answers on the session.
The handlers live with their family (`order_requests.py`, `account_requests.py`,
`market_requests.py`, `contract_requests.py`, `history_requests.py`); the few below answer
with a fixed result. Requests the simulator does not serve are answered from
`unsupported.py`; ats/sim/README.md lists every id and its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ats.sim import (
    account_requests,
    contract_requests,
    history_requests,
    market_requests,
    order_requests,
)
from ats.sim import messages as M
from ats.sim.protocol import FieldError, Reader
from ats.sim.unsupported import IGNORED, REFUSED, refusal_req_id

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session

log = logging.getLogger("ats.sim.handlers")

Handler = Callable[["Server", "Session", Reader], None]


def dispatch(srv: Server, s: Session, fields: list[str]) -> None:
    """Answer one request; a bad one gets an error and the connection stays up."""
    try:
        msg_id = int(fields[0])
    except ValueError:
        log.warning("client %s sent non-numeric message id %r", s.client_id, fields[0][:20])
        s.error(-1, 321, f"Error validating request:-'message id' {fields[0][:20]!r}")
        return
    handler = HANDLERS.get(msg_id)
    if handler is None:
        if not _refuse(s, msg_id, fields):
            log.warning("client %s sent unknown message id %s", s.client_id, msg_id)
            s.error(-1, 321, f"Error validating request:-'unsupported message id {msg_id}'")
        return
    try:
        handler(srv, s, Reader(fields))
    except FieldError as exc:
        req_id = _maybe_int(fields, 2 if len(fields) > 2 else 1)
        log.warning("client %s malformed message %s: %s", s.client_id, msg_id, exc)
        s.error(req_id, 321, f"Error validating request:-'{msg_id}' : {exc}")
    except Exception:
        log.exception("client %s request %s failed", s.client_id, msg_id)
        s.error(-1, 321, f"Error validating request:-'{msg_id}' : internal error")


def _refuse(s: Session, msg_id: int, fields: list[str]) -> bool:
    """Answer a request of `unsupported.py`; False if the id is in neither of its tables."""
    if msg_id in IGNORED:
        return True
    refusal = REFUSED.get(msg_id)
    if refusal is None:
        return False
    s.error(refusal_req_id(refusal, fields, s.version), refusal.code,
            refusal.text.format(name=refusal.name))
    return True


def _maybe_int(fields: list[str], i: int) -> int:
    try:
        return int(fields[i])
    except (IndexError, ValueError):
        return -1


# ---- requests answered with a fixed result ---------------------------------------------

def _req_current_time(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.current_time(srv.clock.timestamp()))


def _req_scanner_parameters(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.scanner_parameters('<?xml version="1.0" encoding="UTF-8"?>'
                                "<ScanParameterResponse/>"))


def _req_soft_dollar_tiers(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.soft_dollar_tiers(r.int()))


def _req_news_providers(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.news_providers())


def _req_user_info(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.user_info(r.int()))


HANDLERS: dict[int, Handler] = {
    1: market_requests.req_mkt_data,
    2: market_requests.cancel_mkt_data,
    3: order_requests.place_order,
    4: order_requests.cancel_order,
    5: order_requests.req_open_orders,
    6: account_requests.req_account_updates,
    7: order_requests.req_executions,
    8: order_requests.req_ids,
    9: contract_requests.req_contract_details,
    10: market_requests.req_mkt_depth,
    11: market_requests.cancel_mkt_depth,
    15: order_requests.req_auto_open_orders,
    16: order_requests.req_all_open_orders,
    17: account_requests.req_managed_accts,
    20: history_requests.req_historical_data,
    24: _req_scanner_parameters,
    25: history_requests.cancel_historical_data,
    49: _req_current_time,
    50: history_requests.req_real_time_bars,
    51: history_requests.cancel_real_time_bars,
    58: order_requests.req_global_cancel,
    59: market_requests.req_market_data_type,
    61: account_requests.req_positions,
    62: account_requests.req_account_summary,
    64: account_requests.cancel_positions,
    74: account_requests.req_positions_multi,
    76: account_requests.req_account_updates_multi,
    78: contract_requests.req_sec_def_opt_params,
    79: _req_soft_dollar_tiers,
    80: account_requests.req_family_codes,
    81: contract_requests.req_matching_symbols,
    82: market_requests.req_mkt_depth_exchanges,
    83: contract_requests.req_smart_components,
    85: _req_news_providers,
    87: history_requests.req_head_timestamp,
    91: contract_requests.req_market_rule,
    92: account_requests.req_pnl,
    93: account_requests.cancel_pnl,
    94: account_requests.req_pnl_single,
    95: account_requests.cancel_pnl_single,
    97: market_requests.req_tick_by_tick,
    98: market_requests.cancel_tick_by_tick,
    99: order_requests.req_completed_orders,
    104: _req_user_info,
}
