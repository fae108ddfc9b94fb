"""ats-ctl data fetch | import | list | show: the ArcticDB `market_data` library.

Symbols are written ``SYMBOL[:TYPE[:EXTRA]]``: ``SPY``, ``SPY:STK:ARCA``, ``VIX:IND``,
``VXM:FUT:20261216`` (see ats/data/naming.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pandas as pd

from ats.barsizes import SIZES
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.data_schedule import schedule
from ats.cli.output import table
from ats.data.fetch import FetchError, FetchPlan, FetchResult, HistoricalFetcher, Step, plan
from ats.data.importer import CsvImportError, infer_bar_size, read_csv
from ats.data.naming import SymbolError, format_symbol, parse_symbol, storage_name
from ats.data.pacing import PACING_FILE, HistoricalPacer, load_sent_times, save_sent_times
from ats.data.ranges import parse_duration, utc
from ats.data.store import BarStore
from ats.errors import Code
from ats.ib import adapter
from ats.sdk.instrument import Instrument

NO_DATA = "NO_DATA"
BAD_INPUT = "BAD_INPUT"
CONNECT_ATTEMPTS = 3

bar_option = click.option("--bar", "bar_size", type=click.Choice(list(SIZES)),
                          default="1d", show_default=True, help="Bar size.")


def store_for(ctl: Ctl) -> BarStore:
    return BarStore(ctl.cfg.arctic_uri, str(ctl.cfg.section("data")["library"]))


def instrument(text: str) -> Instrument:
    try:
        return parse_symbol(text)
    except SymbolError as exc:
        fail(BAD_INPUT, str(exc))


def _ts(value: pd.Timestamp | None) -> str | None:
    if value is None:
        return None
    daily = value == value.normalize()
    return str(value.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"))


@click.group()
def data() -> None:
    """Stored data: fetch market data through IB, import CSV; browse every library
    (libraries, list, show, delete)."""


data.add_command(schedule)


# ------------------------------------------------------------------------------------ fetch
@data.command()
@click.argument("symbols", nargs=-1, required=True)
@bar_option
@click.option("--duration", default="1y", show_default=True,
              help="How far back from --end: 10y, 6m (months), 2w, 30d.")
@click.option("--end", default=None,
              help="Last date wanted, YYYY-MM-DD (default: the venue's current time).")
@click.option("--what", default="TRADES", show_default=True, help="IB whatToShow.")
@click.option("--rth/--all-hours", default=False, help="Regular trading hours only.")
@click.option("--client-id", type=int, default=None, help="Default: [data] client_id.")
@pass_ctl
def fetch(ctl: Ctl, symbols: tuple[str, ...], bar_size: str, duration: str, end: str | None,
          what: str, rth: bool, client_id: int | None) -> None:
    """Download SYMBOLS' bars through IB into the market_data library.

    Only missing ranges are requested (from the last stored bar to now, and older than the
    first when --duration reaches further back). Requests follow IB's historical pacing
    rules; each answer is stored before the next request, so an interrupted fetch resumes
    where it stopped when run again. Only completed bars are stored.
    """
    insts = [instrument(s) for s in symbols]
    try:
        offset = parse_duration(duration)
        end_ts = utc(pd.Timestamp(end)) + pd.Timedelta(days=1) if end else None
    except ValueError as exc:
        fail(BAD_INPUT, str(exc))
    store = store_for(ctl)

    def plans_at(now: pd.Timestamp) -> list[FetchPlan]:
        start = (end_ts if end_ts is not None and end_ts < now else now) - offset
        return [plan(store, i, bar_size, start, end_ts, now) for i in insts]

    cfg = ctl.cfg
    venue = cfg.venue
    cid = client_id if client_id is not None else int(cfg.section("data")["client_id"])
    pacing_path = cfg.state_dir / PACING_FILE
    pacer = HistoricalPacer(clock=time.time)
    pacer.preload(load_sent_times(pacing_path, time.time()))
    try:
        plans, results = asyncio.run(_fetch_all(
            plans_at, store, pacer, str(venue["host"]), int(venue["port"]), cid,
            str(venue["account"]), float(venue["connect_timeout"]), what, rth))
    except KeyboardInterrupt:
        click.echo("\ninterrupted: what was fetched is stored; run the same command "
                   "again to resume", err=True)
        sys.exit(130)
    except FetchError as exc:
        fail(NO_DATA, f"{exc}; bars fetched before it are stored")
    except ConnectionError as exc:
        fail(Code.DISCONNECTED, str(exc))
    finally:
        save_sent_times(pacing_path, pacer.sent_times())
    rows = []
    for p, r in zip(plans, results, strict=True):
        info = store.info(p.name) if store.has(p.name) else None
        rows.append({"symbol": format_symbol(p.instrument), "bar": bar_size,
                     "requests": r.requests, "new_rows": r.rows,
                     "rows": info.rows if info else 0,
                     "first": _ts(info.first) if info else None,
                     "last": _ts(info.last) if info else None})
    if not any(p.steps for p in plans):
        click.echo("up to date: nothing to fetch")
    click.echo(table(rows, ["symbol", "bar", "requests", "new_rows", "rows", "first", "last"]))


async def _fetch_all(plans_at: Callable[[pd.Timestamp], list[FetchPlan]], store: BarStore,
                     pacer: HistoricalPacer, host: str, port: int, client_id: int,
                     account: str, timeout: float, what: str, rth: bool,
                     ) -> tuple[list[FetchPlan], list[FetchResult]]:
    """Plan at the venue's time (a replaying simulator's clock is not the wall clock), then
    fetch."""
    ib = adapter.IB()

    def give_up(attempt: int, exc: BaseException, delay: float) -> None:
        if attempt >= CONNECT_ATTEMPTS:
            raise ConnectionError(f"cannot connect to the venue at {host}:{port} "
                                  f"(clientId {client_id}): {exc or type(exc).__name__}")

    await adapter.connect(ib, host, port, client_id, timeout=timeout, account=account,
                          readonly=True, on_retry=give_up)
    try:
        plans = plans_at(utc(pd.Timestamp(await ib.reqCurrentTimeAsync())))
        total = sum(len(p.steps) for p in plans)
        if not total:
            return plans, [FetchResult(p.name) for p in plans]
        fetcher = HistoricalFetcher(ib, store, pacer, what=what, use_rth=rth)
        results = []
        with click.progressbar(length=total, label="fetching", show_pos=True,
                               item_show_func=lambda s: s) as bar:
            for p in plans:
                def step_done(step: Step, written: int, name: str = p.name) -> None:
                    bar.update(1, f"{name} {_ts(step.chunk.start)}")

                results.append(await fetcher.run(p, step_done))
        return plans, results
    finally:
        ib.disconnect()


# ----------------------------------------------------------------------------------- import
@data.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--symbol", default=None, help="Default: the file name up to its first dot.")
@click.option("--bar", "bar_size", type=click.Choice(list(SIZES)), default=None,
              help="Default: inferred from the spacing of the rows.")
@pass_ctl
def import_(ctl: Ctl, file: Path, symbol: str | None, bar_size: str | None) -> None:
    """Import bars from FILE.csv: a date (or time) column, open, high, low, close, volume.

    Rows already stored (same time) are kept and not written again.
    """
    try:
        df = read_csv(file)
    except CsvImportError as exc:
        fail(BAD_INPUT, str(exc))
    inst = instrument(symbol or file.name.split(".")[0])
    size = bar_size or infer_bar_size(pd.DatetimeIndex(df.index))
    name = storage_name(inst, size)
    store = store_for(ctl)
    written = store.merge(name, df)
    info = store.info(name)
    click.echo(f"imported {written} new bars into {name} ({len(df) - written} already stored); "
               f"{info.rows} bars from {_ts(info.first)} to {_ts(info.last)}")


# list / show / libraries / delete: ats/cli/data_browse.py
