"""ats-ctl assign: move part of a position from one book to another (ats.broker.transfers)."""

from __future__ import annotations

import uuid

import click

from ats.broker.ledger import UNATTRIBUTED
from ats.cli.context import Ctl, actor, pass_ctl
from ats.cli.output import echo_json


@click.command()
@click.argument("symbol")
@click.argument("quantity", type=float)
@click.option("--to", "dest", required=True, help="The strategy that takes the position.")
@click.option("--from", "source", default=UNATTRIBUTED, show_default=True,
              help="The book that gives it: `unattributed` or a strategy.")
@click.option("--price", type=float, default=None,
              help="Cost basis to move it at (default: the source's average cost); the "
                   "difference is realized P&L in the source's book.")
@click.option("--con-id", type=int, default=None,
              help="Which contract, where the source holds several of SYMBOL (futures).")
@click.option("--reason", default="", help="Why, for the audit trail.")
@click.option("--force", is_flag=True, help="Also into (or out of) a HALTED strategy.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def assign(ctl: Ctl, symbol: str, quantity: float, dest: str, source: str, price: float | None,
           con_id: int | None, reason: str, force: bool, as_json: bool) -> None:
    """Move QUANTITY of SYMBOL from one book to another, e.g. a manual trade out of
    `unattributed` into a strategy, which then manages it by its own rule.

    Not a trade: the account is unchanged and the books still sum to it. QUANTITY follows the
    source's position (50 of a short of 100 moves -50). Journalled by the broker, shown by
    `ats-ctl fills` as a transfer."""
    transfer_id = uuid.uuid4().hex  # the same id on a retry: booked once
    result = ctl.call("broker", "assign", {
        "transfer_id": transfer_id, "symbol": symbol, "quantity": quantity, "source": source,
        "dest": dest, "price": price, "reason": reason, "by": actor(), "force": force,
        "con_id": con_id},
        timeout=15)
    rows = result["transfer"]
    if as_json:
        echo_json(rows)
        return
    out = next(r for r in rows if r["side"] == "OUT")
    click.echo(f"assigned {out['position_change'] * -1:+g} {out['symbol']} (conId "
               f"{out['con_id']}) from {out['from']} to {out['to']} at {out['price']:g}; "
               f"realized in {out['from']}: {out['realized_pnl']:.2f} "
               f"(transfer {out['transfer_id']})")


COMMANDS = [assign]
