"""ats-ctl report [NAME]: a performance report of the account (and each strategy) or of one
strategy, from the broker's equity curve and fills, or from the ledger's store with the
broker down. Conventions: ats/report/metrics.py and the README's "Performance reports"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import pandas as pd

from ats.broker.ledger_store import LedgerStore
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.data import BAD_INPUT, _fetch_all, store_for
from ats.cli.trading import offline_ledger
from ats.data.fetch import plan
from ats.data.naming import parse_symbol
from ats.data.pacing import PACING_FILE, HistoricalPacer, load_sent_times, save_sent_times
from ats.data.ranges import utc
from ats.errors import Code
from ats.manager.registry import LIBRARY as REGISTRY_LIBRARY
from ats.manager.registry import SYMBOL as REGISTRY_SYMBOL
from ats.manager.registry import Entry
from ats.report import benchmark as bm
from ats.report.build import Benchmark, Report, build, write
from ats.report.inputs import (
    ACCOUNT,
    Book,
    fills_frame,
    live_book,
    samples_frame,
    strategy_base,
)
from ats.report.live import account_base
from ats.report.metrics import Frequency, choose_frequency
from ats.storage.arctic import open_arctic
from bus.endpoints import listening

#: Equity samples asked of the broker per book (it thins evenly past this).
EQUITY_POINTS = 200_000

frequency_option = click.option(
    "--frequency", type=click.Choice(["auto", "daily", "hourly", "minute"]), default="auto",
    show_default=True, help="Return period (auto: daily once there are 20 daily returns).")
risk_free_option = click.option("--risk-free", type=float, default=0.0, show_default=True,
                                help="Annual risk-free rate for Sharpe, Sortino and alpha.")

fetch_option = click.option(
    "--fetch/--no-fetch", "fetch_bars", default=True, show_default=True,
    help="Complete the benchmark's stored bars from the venue when it answers.")


def progress(message: str) -> None:
    click.echo(f"report: {message}", err=True)


def registry_entries(ctl: Ctl) -> dict[str, dict[str, Any]]:
    """name -> registry entry: the manager's answer, or the registry read with it down."""
    if listening(ctl.cfg.endpoints.manager):
        return {str(e["name"]): dict(e) for e in ctl.call("manager", "list")}
    arctic = open_arctic(ctl.cfg.arctic_uri)
    if not arctic.has_library(REGISTRY_LIBRARY):
        return {}
    lib = arctic.get_library(REGISTRY_LIBRARY)
    if not lib.has_symbol(REGISTRY_SYMBOL):
        return {}
    rows = lib.read(REGISTRY_SYMBOL).data.to_dict("records")
    entries = (Entry.from_row(r) for r in rows)
    return {e.name: e.to_dict() for e in entries if not e.removed}


def load_inputs(ctl: Ctl) -> tuple[pd.DataFrame, pd.DataFrame, float | None]:
    """(equity samples, fills, the account's capital base or None when unknown)."""
    if listening(ctl.cfg.endpoints.broker):
        progress("reading the equity curve and the fills from the broker")
        samples = samples_frame(ctl.call("broker", "equity", {"points": EQUITY_POINTS},
                                         timeout=120))
        fills = fills_frame(ctl.call("broker", "fills", {"limit": 0}, timeout=60))
        base = account_base(ctl.call("broker", "account").values(), ctl.call("broker", "pnl"))
        return samples, fills, base
    ledger = offline_ledger(ctl)
    assert ledger is not None
    store = LedgerStore(ctl.cfg.state_dir / "ledger", ctl.cfg.arctic_uri, read_only=True,
                        arctic=open_arctic(ctl.cfg.arctic_uri))
    progress("reading the equity curve from the ledger's store")
    return samples_frame(store.read_equity_df()), fills_frame(ledger.fill_rows()), None


def venue_fetch(ctl: Ctl) -> bm.Fetch | None:
    """A fetch of missing bars from the venue, or None when nothing listens on its port."""
    venue = ctl.cfg.venue
    host, port = str(venue["host"]), int(venue["port"])
    if not bm.venue_answers(host, port):
        return None

    def fetch(symbol: str, bar_size: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        store = store_for(ctl)
        inst = parse_symbol(symbol)
        pacing_path = ctl.cfg.state_dir / PACING_FILE
        pacer = HistoricalPacer(clock=time.time)
        pacer.preload(load_sent_times(pacing_path, time.time()))
        progress(f"completing {symbol} {bar_size} bars from the venue at {host}:{port}")
        try:
            asyncio.run(_fetch_all(
                lambda now: [plan(store, inst, bar_size, start, min(end, now), now)],
                store, pacer, host, port, int(ctl.cfg.section("data")["client_id"]),
                str(venue["account"]), float(venue["connect_timeout"]), "TRADES", False))
        finally:
            save_sent_times(pacing_path, pacer.sent_times())

    return fetch


def load_benchmark(ctl: Ctl, symbol: str, equity: pd.Series, frequency: Frequency,
                   fetch: bm.Fetch | None) -> tuple[Benchmark | None, str]:
    if equity.empty:
        return None, "no equity curve"
    closes, source = bm.closes(store_for(ctl), symbol, frequency, equity.index[0],
                               equity.index[-1], fetch)
    if closes.empty:
        return None, f"no {symbol} bars stored for these dates ({source}); " \
                     f"`ats-ctl data fetch {symbol}` while the venue is up"
    return Benchmark(symbol, closes, source), ""


def report_book(ctl: Ctl, book: Book, symbol: str, frequency: str, risk_free: float,
                fetch: bm.Fetch | None,
                cache: dict[tuple[str, str], tuple[Benchmark | None, str]]) -> Report:
    """Measure `book` against `symbol` (its bars loaded once per symbol and frequency)."""
    freq: Frequency = (choose_frequency(book.equity) if frequency == "auto"
                       else frequency)  # type: ignore[assignment]
    if (symbol, freq) not in cache:
        cache[(symbol, freq)] = load_benchmark(ctl, symbol, book.equity, freq, fetch)
    bench, note = cache[(symbol, freq)]
    return build(book, bench, frequency=freq, risk_free=risk_free,
                 benchmark_symbol=symbol, benchmark_note=note)


def measured_from(book: Book, start: pd.Timestamp | None) -> Book:
    """The book from `start` on: its curve and the fills measured (its exposures were built
    from every fill, so a position opened before `start` still counts)."""
    if start is None:
        return book
    keep = book.equity.index >= start
    return replace(book, equity=book.equity[keep], net_exposure=book.net_exposure[keep],
                   gross_exposure=book.gross_exposure[keep],
                   fills=book.fills[book.fills["time"] >= start].reset_index(drop=True))


def chosen_base(found: float | None, capital: float | None,
                cfg_cash: float) -> tuple[float, str]:
    if capital is not None:
        return capital, "--capital"
    if found is not None and found > 0:
        return found, "the venue's NetLiquidation less the P&L of every book"
    return cfg_cash, "[sim] cash of ats.toml (the broker is down)"


@click.command()
@click.argument("name", required=False)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.html, metrics.json, equity.csv and trades.csv.")
@click.option("--since", default=None, help="First date measured, YYYY-MM-DD (UTC).")
@click.option("--benchmark", "benchmark", default=None, metavar="SYM",
              help="Compare with SYM (default: the strategy's registry benchmark, else SPY).")
@click.option("--capital", type=float, default=None,
              help="The account's capital base (default: from the venue's NetLiquidation).")
@frequency_option
@risk_free_option
@fetch_option
@pass_ctl
def report(ctl: Ctl, name: str | None, out: Path, since: str | None, benchmark: str | None,
           capital: float | None, frequency: str, risk_free: float, fetch_bars: bool) -> None:
    """Performance report of the account (with each strategy), or of strategy NAME: metrics
    against a benchmark, since inception, today, month and year to date, last 30 and 90 days.
    """
    try:
        since_ts = utc(pd.Timestamp(since)) if since else None
    except ValueError as exc:
        fail(BAD_INPUT, f"bad date: {exc}")
    samples, fills, found = load_inputs(ctl)
    entries = registry_entries(ctl)
    if name is not None and name not in entries and name not in set(samples["strategy"]):
        known = ", ".join(sorted(entries)) or "none"
        fail(Code.UNKNOWN_STRATEGY, f"unknown strategy {name!r} (known: {known})")
    if samples.empty or (since_ts is not None and samples["ts"].max() < since_ts):
        fail("NO_DATA", "no equity samples" + (f" since {since}" if since else "")
             + ": the broker samples the books every [broker] equity_sample_seconds once "
               "something has traded")
    base, rule = chosen_base(found, capital, float(ctl.cfg.section("sim")["cash"]))
    fetch = venue_fetch(ctl) if fetch_bars else None
    cache: dict[tuple[str, str], tuple[Benchmark | None, str]] = {}

    def symbol_for(book_name: str) -> str:
        chosen = benchmark or str(entries.get(book_name, {}).get("benchmark") or "")
        return (chosen or bm.DEFAULT).upper()

    def strategy_report(strategy: str) -> Report:
        weight = float(entries.get(strategy, {}).get("target_weight") or 0.0)
        sbase, srule = strategy_base(weight, base)
        book = measured_from(live_book(strategy, samples, fills, sbase, srule), since_ts)
        return report_book(ctl, book, symbol_for(strategy), frequency, risk_free, fetch, cache)

    if name is not None:
        progress(f"measuring {name}")
        main = strategy_report(name)
        per_strategy: Mapping[str, Report] = {}
    else:
        progress("measuring the account")
        account = measured_from(live_book(ACCOUNT, samples, fills, base, rule), since_ts)
        main = report_book(ctl, account, symbol_for(ACCOUNT), frequency, risk_free, fetch,
                           cache)
        names = sorted(set(samples["strategy"]))
        per_strategy = {}
        for n in names:
            progress(f"measuring {n}")
            per_strategy[n] = strategy_report(n)
    progress(f"writing {out}")
    write(main, out, per_strategy)
    click.echo(f"report written to {out / 'report.html'} (metrics.json, equity.csv, trades.csv)")


COMMANDS = [report]
