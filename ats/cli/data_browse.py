"""ats-ctl data libraries | list [LIBRARY] | show [LIBRARY] SYMBOL | delete LIBRARY SYMBOL.

Browse every ArcticDB library (ats.data.browse). Without a LIBRARY, `list` and `show` read the
market-data library (``[data] library``) as they always did, and `show` takes a market-data
symbol the way `data fetch` does (``SPY --bar 1h``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from ats.cli import data as data_cmd
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.data import BAD_INPUT, NO_DATA, _ts, bar_option, instrument
from ats.cli.output import echo_json, table
from ats.data import browse
from ats.data.naming import format_symbol, split_storage_name, storage_name
from ats.storage.arctic import open_arctic

SHOWN_ROWS = 20  #: rows `show` prints when neither --head nor --tail is given


def _arctic(ctl: Ctl) -> Any:
    return open_arctic(ctl.cfg.arctic_uri)


def _market_data(ctl: Ctl) -> str:
    return str(ctl.cfg.section("data")["library"])


def _listed(s: browse.SymbolSummary, bars: bool) -> dict[str, Any]:
    """A `data list` row; in the market-data library also the bars' symbol and size."""
    row = {**s.to_dict(), "name": s.symbol}
    split = split_storage_name(s.symbol) if bars else None
    if split is not None:
        row["symbol"], row["bar"] = split
    return row


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctl
def libraries(ctl: Ctl, as_json: bool) -> None:
    """Every ArcticDB library, with its number of symbols; protected ones refuse `delete`."""
    rows = browse.libraries(_arctic(ctl))
    if as_json:
        echo_json(rows)
        return
    click.echo(table(rows, ["library", "symbols", "protected"]))


@click.command("list")
@click.argument("library", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctl
def list_(ctl: Ctl, library: str | None, as_json: bool) -> None:
    """The symbols of LIBRARY (default: the market data): rows, first and last time,
    columns, last update."""
    arctic = _arctic(ctl)
    name = library or _market_data(ctl)
    if library is None and not arctic.has_library(name):
        summaries: list[browse.SymbolSummary] = []
    else:
        try:
            summaries = browse.symbols(arctic, name)
        except browse.BrowseError as exc:
            fail(NO_DATA, str(exc))
    rows = [_listed(s, name == _market_data(ctl)) for s in summaries]
    if as_json:
        echo_json(rows)
        return
    for r, s in zip(rows, summaries, strict=True):
        r.update(first=_ts(s.first), last=_ts(s.last), columns=", ".join(s.columns),
                 last_update=s.last_update.strftime("%Y-%m-%d %H:%M:%S"))
    columns = (["symbol", "bar"] if name == _market_data(ctl) else ["symbol"]) + [
        "rows", "first", "last", "columns", "last_update"]
    click.echo(table(rows, columns))


def _resolve(ctl: Ctl, library: str | None, symbol: str, bar_size: str) -> tuple[str, str]:
    """(library, stored symbol) of `show`'s arguments: a market-data symbol may be given as
    an instrument and --bar (``SPY``, ``VXM:FUT:20261216``)."""
    arctic = _arctic(ctl)
    lib = library or _market_data(ctl)
    try:
        stored = browse.library(arctic, lib).has_symbol(symbol)
    except browse.BrowseError as exc:
        if library is not None:
            fail(NO_DATA, str(exc))
        stored = False
    if stored or lib != _market_data(ctl):
        return lib, symbol
    inst = instrument(symbol)
    name = storage_name(inst, bar_size)
    if not arctic.has_library(lib) or not arctic.get_library(lib).has_symbol(name):
        fail(NO_DATA, f"no {bar_size} bars stored for {format_symbol(inst)} "
                      f"(try `ats-ctl data fetch {format_symbol(inst)} --bar {bar_size}`)")
    return lib, name


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="[LIBRARY] SYMBOL")
@bar_option
@click.option("--head", type=int, default=None, help="The first N rows.")
@click.option("--tail", type=int, default=None, help=f"The last N rows (default {SHOWN_ROWS}).")
@click.option("--plot", type=click.Path(path_type=Path), default=None,
              help="Write a chart (PNG) of the whole series: its close, else its numbers.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: the rows.")
@pass_ctl
def show(ctl: Ctl, args: tuple[str, ...], bar_size: str, head: int | None, tail: int | None,
         plot: Path | None, as_json: bool) -> None:
    """The first or last rows of SYMBOL in LIBRARY (default: the market data, where SYMBOL
    may be an instrument with --bar), and optionally a chart."""
    if len(args) > 2:
        fail(BAD_INPUT, f"expected [LIBRARY] SYMBOL, got {len(args)} arguments")
    if head is not None and tail is not None:
        fail(BAD_INPUT, "give --head or --tail, not both")
    library, symbol = (None, args[0]) if len(args) == 1 else args
    lib, name = _resolve(ctl, library, symbol, bar_size)
    arctic = _arctic(ctl)
    try:
        summary = browse.summary(arctic, lib, name)
        df = browse.rows(arctic, lib, name, head=head,
                         tail=SHOWN_ROWS if head is None and tail is None else tail)
    except browse.BrowseError as exc:
        fail(NO_DATA, str(exc))
    rows = browse.records(df)
    if as_json:
        echo_json(rows)
    else:
        click.echo(f"{lib}/{name}: {summary.rows} rows, {_ts(summary.first) or '-'} to "
                   f"{_ts(summary.last) or '-'}, last update "
                   f"{summary.last_update.strftime('%Y-%m-%d %H:%M:%S')} UTC")
        if isinstance(df.index, pd.DatetimeIndex):  # short times, as `data list` shows them
            for r, t in zip(rows, df.index, strict=True):
                r[df.index.name or "index"] = _ts(t)
        click.echo(table(rows, list(rows[0]) if rows else ["time", *summary.columns]))
    if plot is not None:
        _plot(browse.rows(arctic, lib, name), f"{lib}/{name}", plot)
        if not as_json:
            click.echo(f"chart written to {plot}")


@click.command()
@click.argument("library")
@click.argument("symbol")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctl
def delete(ctl: Ctl, library: str, symbol: str, yes: bool, as_json: bool) -> None:
    """Delete SYMBOL (every version) from LIBRARY; the ledger's and the registry's libraries
    are refused."""
    arctic = _arctic(ctl)
    if library in browse.PROTECTED:
        fail(BAD_INPUT, f"library {library!r} is {browse.PROTECTED[library]}: its symbols are "
                        "never deleted by hand")
    try:
        summary = browse.summary(arctic, library, symbol)
    except browse.BrowseError as exc:
        fail(NO_DATA, str(exc))
    deleted = yes or click.confirm(f"delete {library}/{symbol} ({summary.rows} rows)?",
                                   err=as_json)
    if deleted:
        browse.delete(arctic, library, symbol)
    if as_json:
        echo_json({**summary.to_dict(), "deleted": deleted})
    else:
        click.echo(f"deleted {library}/{symbol} ({summary.rows} rows)" if deleted
                   else "not deleted")


def _plot(df: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = df.select_dtypes("number")
    series = numbers[["close"]] if "close" in numbers else numbers
    fig, ax = plt.subplots(figsize=(10, 4))
    for column in series:
        ax.plot(series.index, series[column].to_numpy(), linewidth=1, label=str(column))
    if len(series.columns) > 1:
        ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title + (" close" if "close" in numbers else ""))
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: the whole `data` group: fetch, import and schedule (ats.cli.data) with these commands
#: (its `list` and `show` are these)
data = data_cmd.data
for _command in (libraries, list_, show, delete):
    data.add_command(_command)
