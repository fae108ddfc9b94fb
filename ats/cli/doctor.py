"""ats-ctl doctor: a pre-live check against a Gateway (the simulator included)."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from ats.apiclients import DOCTOR_CLIENT_ID, system_client_ids
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.output import echo_json, table
from ats.cli.report import registry_entries
from ats.doctor import checks
from ats.ib import adapter


async def _examine(host: str, port: int, client_id: int, timeout: float, **kw: Any
                   ) -> list[checks.Row]:
    ib = adapter.IB()
    try:
        await ib.connectAsync(host, port, clientId=client_id, timeout=timeout, readonly=True)
    except (OSError, TimeoutError, ConnectionError) as exc:
        return [checks.connect_row(host, port, exc)]
    try:
        return [checks.Row("connect", checks.OK, f"{host}:{port} as clientId {client_id}"),
                *await checks.run(ib, **kw)]
    finally:
        ib.disconnect()


@click.command()
@click.option("--host", default=None, help="The Gateway's host (default: [venue] host).")
@click.option("--port", type=int, default=None, help="Its port (default: [venue] port).")
@click.option("--client-id", type=int, default=DOCTOR_CLIENT_ID, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctl
def doctor(ctl: Ctl, host: str | None, port: int | None, client_id: int, as_json: bool) -> None:
    """Check a Gateway before trading live on it: server version, accounts (paper or LIVE),
    clock skew, clientIds against IB's cap of 32, that every registered strategy's contracts
    qualify and have market data (errors 354, 10167, 10197), the nightly restart. Exits 25
    when something would fail live."""
    cfg = ctl.cfg
    venue = cfg.venue
    host = host or str(venue["host"])
    port = port or int(venue["port"])
    entries = registry_entries(ctl)
    reserved = {**system_client_ids(cfg), "doctor": client_id}
    simulated = venue["kind"] == "sim" and host == str(venue["host"]) \
        and port == int(venue["port"])
    rows = asyncio.run(_examine(host, port, client_id, float(venue["connect_timeout"]),
                                entries=entries, account=str(venue["account"]),
                                simulated=simulated, reserved=reserved))
    failed = [r for r in rows if r.status == checks.FAIL]
    if as_json:
        echo_json([r.to_dict() for r in rows])
    else:
        click.echo(table([r.to_dict() for r in rows], ["check", "status", "detail"]))
        live = [r for r in rows if "LIVE ACCOUNT" in r.detail]
        if live:
            click.echo(click.style(f"\n!!! {live[0].check} is a LIVE account: real money !!!",
                                   fg="red", bold=True))
    if failed:
        fail("DOCTOR", f"{len(failed)} check(s) would fail live: "
                       + "; ".join(f"{r.check}: {r.detail}" for r in failed))


COMMANDS = [doctor]
