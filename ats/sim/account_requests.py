"""Account requests: account updates and summary, positions, P&L, managed accounts and
family codes; and the account messages the server's account loop repeats."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ats.sim import messages as M
from ats.sim.protocol import Reader

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session


# ---- account messages -------------------------------------------------------------------

def account_values(srv: Server, acct: str) -> list[tuple[str, str, str]]:
    """(key, value, currency) of one account, as reqAccountUpdates lists them."""
    a = srv.venue.accounts[acct]
    summary = a.summary(srv.venue.instrument, srv.venue.price)
    out = [(k, f"{v:.2f}", "USD") for k, v in summary.items()]
    for cur, v in a.cash.items():
        out.append(("CashBalance", f"{v:.2f}", cur))
    out += [("CashBalance", f"{summary['TotalCashValue']:.2f}", "BASE"),
            ("TotalCashBalance", f"{summary['TotalCashValue']:.2f}", "BASE"),
            ("NetLiquidationByCurrency", f"{summary['NetLiquidation']:.2f}", "BASE"),
            ("AccountCode", acct, ""), ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD")]
    return out


def send_account(srv: Server, s: Session, acct: str, end: bool = True) -> None:
    """Account values, portfolio, account time and (with `end`) the download end."""
    if acct not in srv.venue.accounts:
        return
    for key, value, cur in account_values(srv, acct):
        s.send(M.account_value(key, value, cur, acct))
    a = srv.venue.accounts[acct]
    for pos in a.positions.values():
        inst = srv.venue.instrument(pos.con_id)
        if inst is None or (not pos.qty and not pos.realized):
            continue
        px = srv.venue.price(inst)
        mv, unreal = a.position_value(inst, pos, px)
        s.send(M.portfolio_value(inst, pos.qty, round(px, 6), round(mv, 4),
                                 round(pos.avg_cost, 8), round(unreal, 4),
                                 round(pos.realized, 4), acct, s.version))
    s.send(M.account_time(srv.clock.timestamp()))
    if end:
        s.send(M.account_download_end(acct))


def send_pnl(srv: Server, s: Session, req_id: int, acct: str) -> None:
    a = srv.venue.accounts.get(acct)
    if a is None:
        return
    summary = a.summary(srv.venue.instrument, srv.venue.price)
    day = srv.clock.now().strftime("%Y%m%d")
    start = a.day_start.setdefault(day, summary["NetLiquidation"])
    s.send(M.pnl(req_id, round(summary["NetLiquidation"] - start, 2),
                 round(summary["UnrealizedPnL"], 2), round(summary["RealizedPnL"], 2),
                 s.version))


def send_pnl_single(srv: Server, s: Session, req_id: int, acct: str, con_id: int) -> None:
    a = srv.venue.accounts.get(acct)
    inst = srv.venue.instrument(con_id)
    if a is None or inst is None:
        return
    pos = a.positions.get(con_id)
    qty = pos.qty if pos else 0.0
    mv, unreal = a.position_value(inst, pos, srv.venue.price(inst)) if pos else (0.0, 0.0)
    realized = pos.realized if pos else 0.0
    s.send(M.pnl_single(req_id, qty, round(unreal + realized, 2), round(unreal, 2),
                        round(realized, 2), round(mv, 2), s.version))


# ---- requests ---------------------------------------------------------------------------

def req_account_updates(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    subscribe = r.bool()
    acct = r.str() or srv.venue.account_names[0]
    if not subscribe:
        s.account_updates = None
        return
    if acct not in srv.venue.accounts:
        s.error(-1, 321, f"Error validating request:-'account' : unknown account {acct}")
        return
    s.account_updates = acct
    send_account(srv, s, acct)


def req_account_summary(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    r.str()  # group
    tags = {t.strip() for t in r.str().split(",") if t.strip()}
    for name in srv.venue.account_names:
        for key, value, cur in account_values(srv, name):
            if cur == "BASE" or (tags and "All" not in tags and key not in tags):
                continue
            s.send(M.account_summary(req_id, name, key, value, cur))
    s.send(M.account_summary_end(req_id))


def req_account_updates_multi(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    acct = r.str() or srv.venue.account_names[0]
    if acct in srv.venue.accounts:
        for key, value, cur in account_values(srv, acct):
            s.send(M.account_update_multi(req_id, acct, key, value, cur))
    s.send(M.account_update_multi_end(req_id))


def req_positions(srv: Server, s: Session, r: Reader) -> None:
    s.positions_sub = True
    for name, acc in srv.venue.accounts.items():
        for pos in acc.positions.values():
            inst = srv.venue.instrument(pos.con_id)
            if inst is not None and pos.qty:
                s.send(M.position(name, inst, pos.qty, round(pos.avg_cost, 8), s.version))
    s.send(M.position_end())


def cancel_positions(srv: Server, s: Session, r: Reader) -> None:
    s.positions_sub = False


def req_positions_multi(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    acct = r.str()
    for name, acc in srv.venue.accounts.items():
        if acct and acct != name:
            continue
        for pos in acc.positions.values():
            inst = srv.venue.instrument(pos.con_id)
            if inst is not None and pos.qty:
                s.send(M.position_multi(req_id, name, inst, pos.qty, round(pos.avg_cost, 8)))
    s.send(M.position_multi_end(req_id))


def req_pnl(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    acct = r.str() or srv.venue.account_names[0]
    s.pnl[req_id] = acct
    send_pnl(srv, s, req_id, acct)


def cancel_pnl(srv: Server, s: Session, r: Reader) -> None:
    s.pnl.pop(r.int(), None)


def req_pnl_single(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    acct = r.str() or srv.venue.account_names[0]
    r.str()
    con_id = r.int()
    s.pnl_single[req_id] = (acct, con_id)
    send_pnl_single(srv, s, req_id, acct, con_id)


def cancel_pnl_single(srv: Server, s: Session, r: Reader) -> None:
    s.pnl_single.pop(r.int(), None)


def req_managed_accts(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.managed_accounts(srv.venue.account_names))


def req_family_codes(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.family_codes([(acct, "") for acct in srv.venue.account_names]))
