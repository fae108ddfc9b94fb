"""Order requests: placeOrder (what-if included), cancelOrder, global cancel, open and
completed orders, executions and order ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ats.sim import messages as M
from ats.sim import whatif
from ats.sim.history import parse_end
from ats.sim.orders import SimOrder
from ats.sim.protocol import FieldError, Reader
from ats.sim.universe import Instrument
from ats.sim.versions import ORDER_CONTAINER

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session

_SIDES = {"BUY": "BOT", "SELL": "SLD", "BOT": "BOT", "SLD": "SLD"}  #: reqExecutions' filter


def place_order(srv: Server, s: Session, r: Reader) -> None:
    if s.version < ORDER_CONTAINER:
        r.skip()  # message version
    order_id = r.int()
    spec = r.contract()
    r.skip(2)  # secIdType, secId
    action = r.str().upper()
    qty = r.float() or 0.0
    order_type = r.str().upper()
    lmt = r.float()
    aux = r.float()
    tif = r.str().upper() or "DAY"
    oca = r.str()
    account = r.str()
    r.skip(2)  # openClose, origin
    order_ref = r.str()
    transmit = r.bool()
    parent_id = r.int()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.bool()
    try:
        tail = whatif.read_tail(r, s.version)
    except FieldError:
        tail = whatif.OrderTail(0, False)  # a shorter layout than ibapi's: defaults
    what_if = tail.what_if
    assert s.client_id is not None
    found = srv.resolve(spec)
    if len(found) != 1:
        srv.venue.max_order_id = max(srv.venue.max_order_id, order_id)
        s.error(order_id, 200, "No security definition has been found for the request")
        return
    inst = found[0]
    if what_if:
        _answer_what_if(srv, s, SimOrder(s.client_id, order_id, 0, account, inst.con_id,
                                         action, qty, order_type, lmt, aux, tif,
                                         order_ref=order_ref, status="PreSubmitted"), inst)
        return
    order = SimOrder(s.client_id, order_id, 0, account, inst.con_id, action, qty, order_type,
                     lmt, aux, tif, order_ref=order_ref, oca_group=oca,
                     outside_rth=outside_rth, parent_id=parent_id, oca_type=tail.oca_type,
                     transmit=transmit)
    srv.acknowledge(lambda: srv.venue.place(order, inst))


def _answer_what_if(srv: Server, s: Session, order: SimOrder, inst: Instrument) -> None:
    """A Gateway answers a what-if order with one openOrder carrying the margin and
    commission preview; nothing is placed or executed."""
    srv.venue.max_order_id = max(srv.venue.max_order_id, order.order_id)
    acct = order.account if order.account in srv.venue.accounts else srv.venue.account_names[0]
    order.account = acct
    account = srv.venue.accounts[acct]
    summary = account.summary(srv.venue.instrument, srv.venue.price)
    price = order.lmt_price if order.order_type == "LMT" and order.lmt_price else \
        srv.venue.price(inst)
    pv = whatif.preview(account, summary, inst, order.action, order.total_qty, price,
                        srv.clock.now().strftime("%Y%m"))
    s.send(M.open_order(order, inst, s.version, pv.order_state_fields(s.version)))


def cancel_order(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    order_id = r.int()
    assert s.client_id is not None
    client_id = s.client_id
    srv.acknowledge(lambda: srv.venue.cancel(client_id, order_id))


def req_global_cancel(srv: Server, s: Session, r: Reader) -> None:
    srv.venue.global_cancel()


def report_open_orders(srv: Server, s: Session, everyone: bool) -> None:
    """openOrder and orderStatus for each working order the session may see (its own, or
    all); held orders (transmit=False, not yet transmitted) are not at the venue yet."""
    for order in srv.venue.working.values():
        if order.held or not (everyone or order.client_id == s.client_id):
            continue
        inst = srv.venue.instrument(order.con_id)
        if inst is not None:
            s.send(M.open_order(order, inst, s.version))
            s.send(M.order_status(order, s.version))


def _send_open_orders(srv: Server, s: Session, everyone: bool) -> None:
    report_open_orders(srv, s, everyone)
    s.send(M.open_order_end())


def req_open_orders(srv: Server, s: Session, r: Reader) -> None:
    _send_open_orders(srv, s, everyone=s.client_id == srv.config.master_client_id)


def req_all_open_orders(srv: Server, s: Session, r: Reader) -> None:
    _send_open_orders(srv, s, everyone=True)


def req_auto_open_orders(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    r.bool()


def req_completed_orders(srv: Server, s: Session, r: Reader) -> None:
    for order in srv.venue.orders.values():
        if order.is_done:
            inst = srv.venue.instrument(order.con_id)
            if inst is not None:
                s.send(M.completed_order(order, inst, s.version))
    s.send(M.completed_orders_end())


def req_executions(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    client_id = r.int()
    acct = r.str()
    since = r.str()
    symbol = r.str().upper()
    sec_type = r.str().upper()
    exchange = r.str().upper()
    side = r.str().upper()
    t_min = parse_end(since, 0.0) if since else 0.0
    for e in srv.venue.executions:
        inst = srv.venue.instrument(e.con_id)
        if inst is None:
            continue
        if client_id and e.client_id != client_id:
            continue
        if acct and e.account != acct:
            continue
        if e.time < t_min or (symbol and inst.symbol != symbol):
            continue
        if (sec_type and inst.sec_type != sec_type) or (exchange and e.exchange != exchange):
            continue
        if side and _SIDES.get(side) != e.side:
            continue
        s.send(M.exec_details(req_id, e, inst, s.version))
        s.send(M.commission_report(e))
    s.send(M.exec_details_end(req_id))


def req_ids(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.next_valid_id(srv.venue.next_order_id))
