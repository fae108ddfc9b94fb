"""ats-ctl backtest STRATEGY: a shipped strategy run over the bars stored in market_data.

The same strategy code as live, driven by ats.sdk.backtest at replay speed; the result is an
equity curve and its summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from ats.broker.account import account_totals
from ats.cli.context import Ctl, fail, pass_ctl
from ats.cli.data import BAD_INPUT, NO_DATA, store_for
from ats.cli.output import echo_json, table
from ats.cli.report import (
    fetch_option,
    frequency_option,
    measured_from,
    registry_entries,
    report_book,
    risk_free_option,
    venue_fetch,
)
from ats.data.naming import format_symbol, split_storage_name, storage_name
from ats.data.ranges import utc
from ats.data.store import BarStore
from ats.errors import Code
from ats.report import benchmark as bm
from ats.report.build import write
from ats.report.inputs import backtest_book
from ats.sdk.backtest import BacktestContext, BacktestResult, run
from ats.sdk.bars import BAR_SIZES, BarSpec
from ats.sdk.instrument import Future, Instrument
from ats.sdk.loader import StrategyLoadError, load_strategy
from ats.sdk.params import ParamError, Params
from ats.sdk.strategy import Strategy
from ats.sdk.weights import FULL_WEIGHTS, Weights
from bus.endpoints import listening

#: Calendar time per bar of history, to read enough bars before --start to warm up.
_WARMUP_STRETCH = 1.6


def _pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(Code.BAD_PARAMS, f"expected key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def stored_futures(store: BarStore) -> dict[str, Instrument]:
    """Futures with stored bars, so strategies can pick from `ctx.futures_chain(root)`."""
    out: dict[str, Instrument] = {}
    for name in store.names():
        parts = split_storage_name(name)
        base = parts[0].split(".") if parts else []
        if len(base) == 3 and base[1] == "FUT":
            inst = Future(base[0], base[2])
            out[inst.key] = inst
    return out


def subscriptions(cls: type[Strategy[Any]], params: Params,
                  futures: dict[str, Instrument]) -> list[BarSpec]:
    probe = cls("backtest", params, BacktestContext(instruments=futures))
    return probe.subscriptions()


def summary(result: BacktestResult, cash: float) -> dict[str, Any]:
    eq = result.equity
    final = float(eq.iloc[-1]) if len(eq) else cash
    peak = np.maximum.accumulate(eq.to_numpy()) if len(eq) else np.array([cash])
    dd = float(np.max(1 - eq.to_numpy() / peak)) if len(eq) else 0.0
    return {
        "start": eq.index[0].isoformat() if len(eq) else None,
        "end": eq.index[-1].isoformat() if len(eq) else None,
        "bars": len(eq),
        "return_pct": (final / cash - 1) * 100 if cash else math.nan,
        "max_drawdown_pct": dd * 100,
        "fills": len(result.fills),
        "orders": len(result.orders),
        "final_equity": final,
    }


@click.command()
@click.argument("strategy")
@click.option("--start", default=None, help="First trading date (earlier bars warm up).")
@click.option("--end", default=None, help="Last date (default: the last stored bar).")
@click.option("--capital", "--cash", "capital", type=float, default=None,
              help="The account's capital (default: the venue's NetLiquidation, or [sim] cash "
                   "with the broker down).")
@click.option("--weight", type=float, default=None,
              help="Target weight of the account (default: the registered one, else 1.0).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Strategy parameter (repeatable).")
@click.option("--fill-at", type=click.Choice(["next_open", "close"]), default="next_open",
              show_default=True,
              help="Market orders fill at the next open, or at the close of the bar whose "
              "completion decided them (a scheduled callback's: the next open; "
              "ats/sdk/GUIDE.md, \"What a callback sees\").")
@click.option("--plot", type=click.Path(path_type=Path), default=None,
              help="Write the equity curve (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Also write report.html, metrics.json, equity.csv and "
                                 "trades.csv (as `ats-ctl report`) into this folder.")
@click.option("--benchmark", default=None, metavar="SYM",
              help="The report's benchmark (default: the registry's, else SPY).")
@frequency_option
@risk_free_option
@fetch_option
@pass_ctl
def backtest(ctl: Ctl, strategy: str, start: str | None, end: str | None,
             capital: float | None, weight: float | None, params: tuple[str, ...],
             fill_at: str, plot: Path | None, as_json: bool, report_dir: Path | None,
             benchmark: str | None, frequency: str, risk_free: float,
             fetch_bars: bool) -> None:
    """Run STRATEGY (a shipped name such as ltmt, a module or a .py file) over stored bars.

    It trades its share of the account: --weight (default: its registered target weight,
    1.0 when it is not registered) of --capital (default: the account's), and pays the
    simulator's commissions."""
    try:
        cls = load_strategy(strategy)
        p = cls.params_type.from_mapping(_pairs(params))
    except StrategyLoadError as exc:
        fail(Code.INVALID_STRATEGY, str(exc))
    except ParamError as exc:
        fail(Code.BAD_PARAMS, str(exc))
    try:
        start_ts = utc(start) if start else None
        end_ts = utc(pd.Timestamp(end) + pd.Timedelta(days=1)) if end else None
    except ValueError as exc:
        fail(BAD_INPUT, f"bad date: {exc}")
    store = store_for(ctl)
    specs = subscriptions(cls, p, stored_futures(store))
    names = {s.instrument: storage_name(s.instrument, s.bar_size) for s in specs}
    absent = [s for s in specs if not store.has(names[s.instrument])]
    if absent:
        needed = " ".join(sorted({format_symbol(s.instrument) for s in absent}))
        bars_needed = sorted({s.bar_size for s in absent})
        fail(NO_DATA, f"no stored bars for {', '.join(names[s.instrument] for s in absent)}; "
                      f"fetch them with `ats-ctl data fetch {needed} --bar {bars_needed[0]} "
                      f"--duration 10y`")
    read_from = None
    if start_ts is not None:
        longest = max((BAR_SIZES[s.bar_size] * s.lookback for s in specs),
                      default=pd.Timedelta(0))
        read_from = start_ts - longest * _WARMUP_STRETCH - pd.Timedelta(days=7)
    bars = {s.instrument: store.read(names[s.instrument], read_from,
                                     None if end_ts is None else end_ts - pd.Timedelta(1, "ns"))
            for s in specs}
    times = sorted({t for df in bars.values() for t in pd.DatetimeIndex(df.index)})
    if not times:
        fail(NO_DATA, "no stored bars in the requested dates")
    warmup = sum(1 for t in times if start_ts is not None and t < start_ts)
    entry = registry_entries(ctl).get(strategy, {})
    weights, weight_rule = sizing(weight, entry)
    cash, capital_rule = account_capital(ctl, capital)
    result = run(cls, p, bars, cash=cash, fill_at=fill_at,  # type: ignore[arg-type]
                 warmup=warmup, name=strategy, weights=weights)
    trading = result.equity.iloc[warmup:] if warmup < len(result.equity) else result.equity
    result.equity = trading
    info = summary(result, cash)
    info["strategy"] = strategy
    info["params"] = p.to_mapping()
    info["weight"] = weights.target
    info["capital"] = cash
    if as_json:
        echo_json(info)
    else:
        rows = [{"item": k, "value": _fmt(k, v)} for k, v in info.items()
                if k not in ("params",)]
        click.echo(table(rows, ["item", "value"]))
    if plot is not None:
        _plot_equity(trading, f"{strategy} equity", plot)
        if not as_json:
            click.echo(f"equity curve written to {plot}")
    if report_dir is not None:
        base = weights.target * cash
        book = backtest_book(strategy, trading, result.fills,
                             {inst.key: df["close"] for inst, df in bars.items() if len(df)},
                             cash, base, f"{weight_rule} x {capital_rule} {cash:,.2f}")
        book = measured_from(book, trading.index[0] if len(trading) else None)
        symbol = (benchmark or str(entry.get("benchmark") or "") or bm.DEFAULT).upper()
        rep = report_book(ctl, book, symbol, frequency, risk_free,
                          venue_fetch(ctl) if fetch_bars else None, {})
        write(rep, report_dir)
        click.echo(f"report written to {report_dir / 'report.html'}", err=as_json)


def sizing(weight: float | None, entry: Mapping[str, Any]) -> tuple[Weights, str]:
    """The weights a replay trades with, and where they came from."""
    if weight is not None:
        if weight <= 0:
            fail(Code.BAD_PARAMS, f"--weight must be > 0, got {weight}")
        return Weights(weight, weight * 0.9, weight * 1.1), f"--weight {weight:g}"
    target = float(entry.get("target_weight") or 0.0)
    if target > 0:
        return (Weights(target, float(entry["min_weight"]), float(entry["max_weight"])),
                f"registered target weight {target:g}")
    return FULL_WEIGHTS, "weight 1.0 (not registered with a target weight)"


def account_capital(ctl: Ctl, capital: float | None) -> tuple[float, str]:
    if capital is not None:
        return capital, "--capital"
    if listening(ctl.cfg.endpoints.broker):
        account = account_totals(ctl.call("broker", "account").values())
        if account.get("NetLiquidation", 0.0) > 0:
            return account["NetLiquidation"], "the account's NetLiquidation"
    return float(ctl.cfg.section("sim")["cash"]), "[sim] cash"


def _fmt(key: str, value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" + ("%" if key.endswith("_pct") else "")
    return "-" if value is None else str(value)


def _plot_equity(equity: pd.Series, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(equity.index, equity.to_numpy(), linewidth=1)
    ax.set_title(title)
    ax.set_ylabel("equity")
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


COMMANDS = [backtest]
