"""ats-ctl positions | pnl | orders | fills | halt | resume | limits | intents | reconcile."""

from __future__ import annotations

from typing import Any

import click

from ats.broker import order_store
from ats.broker.account import account_totals
from ats.broker.ledger import Ledger
from ats.broker.ledger_store import LedgerStore
from ats.cli.context import Ctl, actor, fail, pass_ctl
from ats.cli.output import echo_json, table
from ats.errors import Code
from ats.storage.arctic import open_arctic
from bus.endpoints import listening


def offline_ledger(ctl: Ctl) -> Ledger | None:
    """None while the broker runs; else its ledger rebuilt read-only from the ledger's store
    (ArcticDB and the local journal), so the books can be read with the broker down."""
    if listening(ctl.cfg.endpoints.broker):
        return None
    clients: dict[int, str] = {}
    if listening(ctl.cfg.endpoints.manager):  # executions without our orderRef, by clientId
        clients = {int(e["client_id"]): str(e["name"]) for e in ctl.call("manager", "list")}
    # the process's one Arctic over this LMDB path (LMDB refuses a second one safely)
    store = LedgerStore(ctl.cfg.state_dir / "ledger", ctl.cfg.arctic_uri, read_only=True,
                        arctic=open_arctic(ctl.cfg.arctic_uri))
    ledger = Ledger(client_strategies=clients)
    ledger.replay(*store.load())
    click.echo("offline: the broker is not running; read-only from the ledger's store, "
               "positions marked at their average cost", err=True)
    return ledger


def offline_orders(ctl: Ctl) -> dict[str, dict[str, Any]] | None:
    """None while the broker runs; else the order history it keeps in its state folder, read
    without writing anything."""
    if listening(ctl.cfg.endpoints.broker):
        return None
    path = ctl.cfg.state_dir / order_store.FILE
    try:
        rows = order_store.read(path)
    except ValueError as exc:
        fail("BAD_INPUT", str(exc))
    click.echo(f"offline: the broker is not running; read-only from its order history {path}",
               err=True)
    return rows


def _show(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        echo_json(rows)
        return
    if any("venue" in r for r in rows):  # several venues: say whose each row is
        columns = [columns[0], "venue", *columns[1:]]
    click.echo(table(rows, columns))


@click.command()
@click.option("--strategy", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_flat", is_flag=True, help="Include flat positions.")
@pass_ctl
def positions(ctl: Ctl, strategy: str | None, as_json: bool, show_flat: bool) -> None:
    """Per-strategy positions (the `unattributed` book holds what the system did not place)."""
    ledger = offline_ledger(ctl)
    rows = (ctl.call("broker", "positions", {"strategy": strategy} if strategy else {})
            if ledger is None else ledger.position_rows(strategy))
    if not show_flat:
        rows = [r for r in rows if r.get("position")]
    _show(rows, as_json, ["strategy", "symbol", "con_id", "position", "avg_cost", "mark",
                          "market_value", "unrealized_pnl", "realized_pnl"])


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also draw each strategy's P&L over time into this PNG.")
@pass_ctl
def pnl(ctl: Ctl, as_json: bool, plot: str | None) -> None:
    """Per-strategy P&L, their TOTAL, and the venue's ACCOUNT figures, which it must match.

    total_pnl = realized (net of commissions) + unrealized. IB folds commissions into its
    average cost, so compare TOTAL with ACCOUNT on total_pnl."""
    ledger = offline_ledger(ctl)
    rows = (ctl.call("broker", "pnl") if ledger is None
            else [ledger.pnl_row(s) for s in ledger.strategies()])
    for r in rows:
        r["total_pnl"] = float(r["realized_pnl_net"]) + float(r["unrealized_pnl"])
    if as_json:
        echo_json(rows)
        return
    if rows:
        total: dict[str, Any] = {"strategy": "TOTAL"}
        for key in ("realized_pnl_net", "unrealized_pnl", "total_pnl", "commissions"):
            total[key] = sum(float(r.get(key) or 0) for r in rows)
        total["fills"] = sum(int(r.get("fills") or 0) for r in rows)
        rows.append(total)
    account = {} if ledger is not None else \
        account_totals(ctl.call("broker", "account").values())
    if "RealizedPnL" in account and "UnrealizedPnL" in account:
        rows.append({"strategy": "ACCOUNT (venue)", "realized_pnl_net": account["RealizedPnL"],
                     "unrealized_pnl": account["UnrealizedPnL"],
                     "total_pnl": account["RealizedPnL"] + account["UnrealizedPnL"]})
    click.echo(table(rows, ["strategy", "realized_pnl_net", "unrealized_pnl", "total_pnl",
                            "commissions", "fills"],
                     ["STRATEGY", "REALIZED (NET)", "UNREALIZED", "TOTAL P&L", "COMMISSIONS",
                      "FILLS"]))
    if plot:
        if ledger is not None:
            fail(Code.DISCONNECTED, "the equity curves need the broker: `ats-ctl up`")
        _plot_equity(ctl.call("broker", "equity", {"points": 1000}, timeout=30), plot)
        click.echo(f"equity curves written to {plot}")


def _plot_equity(samples: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ats.report.inputs import pnl_curve, samples_frame

    fig, ax = plt.subplots(figsize=(10, 5))
    if samples:
        df = samples_frame(samples)
        # Strategies start with no cash of their own: their equity is their P&L.
        for name, group in df.groupby("strategy"):
            ax.plot(group["ts"], group["equity"], label=str(name))
        # Their sum at each sample time (a book not sampled yet counts 0, then its last value)
        total = pnl_curve(df, None)["equity"]
        ax.plot(total.index, total.to_numpy(), label="TOTAL", color="black", linewidth=2)
        ax.legend(loc="upper left", fontsize="small")
    ax.set_title("P&L by strategy, and their TOTAL")
    ax.set_ylabel("USD")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@click.command()
@click.option("--strategy", default=None)
@click.option("--all", "show_all", is_flag=True, help="Include finished orders.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def orders(ctl: Ctl, strategy: str | None, show_all: bool, as_json: bool) -> None:
    """Orders the broker has seen from every client (kept across its restarts)."""
    params: dict[str, Any] = {"all": show_all}
    if strategy:
        params["strategy"] = strategy
    stored = offline_orders(ctl)
    rows = (ctl.call("broker", "orders", params) if stored is None
            else order_store.select(stored, strategy, show_all))
    _show(rows, as_json, ["strategy", "order_ref", "symbol", "side", "quantity", "order_type",
                          "status", "filled", "avg_price", "perm_id", "client_id"])


@click.command()
@click.option("--strategy", default=None)
@click.option("--limit", type=int, default=50, help="Most recent N (0 = all).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def fills(ctl: Ctl, strategy: str | None, limit: int, as_json: bool) -> None:
    """Executions in the ledger, each recorded once, with its commission, and the transfers
    between books (`ats-ctl assign`: kind `transfer`, sides OUT and IN)."""
    params: dict[str, Any] = {"limit": limit}
    if strategy:
        params["strategy"] = strategy
    ledger = offline_ledger(ctl)
    rows = (ctl.call("broker", "fills", params) if ledger is None
            else ledger.recent_fills(strategy, limit))
    _show(rows, as_json,
          ["time", "strategy", "kind", "symbol", "side", "shares", "price", "commission",
           "exec_id", "order_ref"])


@click.command()
@click.argument("strategy", required=False)
@click.option("--flatten", is_flag=True, help="Also close the positions with market orders.")
@click.option("--reason", default="operator halt")
@pass_ctl
def halt(ctl: Ctl, strategy: str | None, flatten: bool, reason: str) -> None:
    """Halt one strategy (cancel its orders) or, without a name, everything (global cancel)."""
    result = ctl.call("broker", "halt", {"strategy": strategy, "flatten": flatten,
                                         "reason": reason, "by": actor()}, timeout=30)
    click.echo(f"HALTED {strategy or 'all trading'}" +
               (f"; flatten orders: {', '.join(result['flatten_orders']) or 'none'}"
                if flatten else ""))


@click.command()
@click.argument("strategy", required=False)
@pass_ctl
def resume(ctl: Ctl, strategy: str | None) -> None:
    """Undo a halt."""
    ctl.call("broker", "resume", {"strategy": strategy, "by": actor()})
    click.echo(f"resumed {strategy or 'all trading'}")


@click.command()
@click.option("--strategy", default=None, help="Change this strategy's limits.")
@click.option("--account", is_flag=True, help="Change the account-wide limits.")
@click.argument("pairs", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def limits(ctl: Ctl, strategy: str | None, account: bool, pairs: tuple[str, ...],
           as_json: bool) -> None:
    """Show risk limits, or change them at runtime (kept across restarts):
    ats-ctl limits --strategy s2 max_order_qty=500; ats-ctl limits --account ..."""
    if pairs:
        if account == (strategy is not None):
            fail(Code.BAD_PARAMS, "say whose limits to change: --strategy NAME or --account")
        if strategy is not None:
            ctl.call("manager", "get", {"name": strategy})  # an unknown name exits 4
        changes: dict[str, float | None] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                fail(Code.BAD_PARAMS, f"expected key=value, got {pair!r}")
            try:
                changes[key] = None if value.lower() in ("none", "") else float(value)
            except ValueError:
                fail(Code.BAD_PARAMS, f"{key}: {value!r} is not a number")
        result = ctl.call("broker", "set_limits", {"strategy": strategy, "limits": changes})
    else:
        result = ctl.call("broker", "limits")
    if as_json:
        echo_json(result)
        return
    rows = [{"scope": "account", **result["account"]},
            {"scope": "default", **result["default_strategy"]}]
    rows += [{"scope": name, **lim} for name, lim in result["strategies"].items()]
    click.echo(table(rows, ["scope", "max_order_qty", "max_order_notional", "max_position",
                            "max_gross_exposure", "max_orders_per_minute"]))


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def reconcile(ctl: Ctl, as_json: bool) -> None:
    """Check strategy books + unattributed against the account's positions now."""
    result = ctl.call("broker", "reconcile")
    if as_json:
        echo_json(result)
        return
    if not result["breaks"]:
        click.echo(f"reconciled: {result['checked']} contracts, no breaks")
    else:
        click.echo(table(result["breaks"], ["con_id", "ledger", "account", "diff"]))


COMMANDS = [positions, pnl, orders, fills, halt, resume, limits, reconcile]
