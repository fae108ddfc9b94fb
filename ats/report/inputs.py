"""What a report is computed from: an equity curve with its capital base, fills, exposures.

Strategies start with no cash of their own, so the ledger's "equity" of a strategy is its P&L.
A report measures returns against a **capital base**:

- a strategy: its target weight x the account's capital base (the account's base when its
  target weight is 0: such a strategy trades fixed quantities, not a share of the account);
- the account: its starting equity (the venue's NetLiquidation less the P&L of every book,
  `--capital` when given, or the simulator's `[sim] cash` with the broker down).

The curve is then ``capital_base + P&L``; metrics.json says which base was used and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ats.broker.ledger import Ledger
from ats.orders.fills import BOT, SLD, CommissionReport, Execution
from ats.sdk.instrument import FUTURE_MULTIPLIERS, from_key

ACCOUNT = "account"
FILL_COLUMNS = ["time", "strategy", "symbol", "con_id", "side", "shares", "price",
                "multiplier", "commission", "realized_pnl", "exec_id", "order_ref"]


@dataclass(frozen=True)
class Book:
    """One strategy's (or the account's) record, ready to measure."""

    name: str
    equity: pd.Series  #: capital base + P&L, indexed by UTC time
    capital_base: float
    base_rule: str  #: how capital_base was chosen, in words
    fills: pd.DataFrame  #: FILL_COLUMNS, in time order
    net_exposure: pd.Series  #: signed market value of the positions, at the equity's times
    gross_exposure: pd.Series  #: sum of |market value|, at the equity's times


def samples_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """The broker's equity samples (``ts``, ``strategy``, ``equity``, ``market_value``, ...)
    with ``ts`` as UTC datetimes, in time order."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    if "kind" in df:  # a transfer between books (`ats-ctl assign`) is not a trade
        df = df[df["kind"] != "transfer"]
    if df.empty:
        return pd.DataFrame(columns=["ts", "strategy", "equity", "market_value"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    for col in ("equity", "market_value"):
        df[col] = (pd.to_numeric(df[col], errors="coerce").fillna(0.0) if col in df
                   else 0.0)
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def fills_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Fill rows (the ledger's shape; its transfers left out) with a UTC ``time``, a
    signed-free ``shares``, and a ``multiplier`` (rows without one: the SDK's futures
    multipliers by symbol, else 1)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    if "kind" in df:  # a transfer between books (`ats-ctl assign`) is not a trade
        df = df[df["kind"] != "transfer"]
    if df.empty:
        return pd.DataFrame(columns=FILL_COLUMNS)
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    if "multiplier" not in df:
        df["multiplier"] = [FUTURE_MULTIPLIERS.get(str(s), 1.0) for s in df["symbol"]]
    for col in ("shares", "price", "multiplier", "commission", "realized_pnl"):
        df[col] = pd.to_numeric(df.get(col), errors="coerce")
    df["commission"] = df["commission"].fillna(0.0)
    for col in FILL_COLUMNS:
        if col not in df:
            df[col] = None
    return df[FILL_COLUMNS].sort_values("time", kind="stable").reset_index(drop=True)


def signed_quantity(fills: pd.DataFrame) -> pd.Series:
    return fills["shares"].astype(float) * np.where(fills["side"].isin(["BOT", "BUY"]), 1, -1)


def traded_notional(fills: pd.DataFrame) -> float:
    return float((fills["shares"].abs() * fills["price"] * fills["multiplier"]).sum())


def exposures(fills: pd.DataFrame, index: pd.DatetimeIndex,
              marks: pd.DataFrame | None = None) -> tuple[pd.Series, pd.Series]:
    """(net, gross) market value at each time of `index` of the positions the fills built.

    Each contract is marked at its column of `marks` (prices by time, columns ``con_id``) when
    given, else at its last fill price: the live equity samples carry the books' net market
    value but not each contract's mark."""
    net = pd.Series(0.0, index=index)
    gross = pd.Series(0.0, index=index)
    if fills.empty or not len(index):
        return net, gross
    qty = signed_quantity(fills)
    for con_id, group in fills.groupby("con_id", sort=False):
        times = pd.DatetimeIndex(group["time"])
        position = qty.loc[group.index].cumsum()
        position.index = times
        position = position.groupby(level=0).last()
        held = position.reindex(index.union(position.index)).ffill().reindex(index).fillna(0.0)
        if marks is not None and con_id in marks.columns:
            price = marks[con_id].reindex(index, method="ffill")
        else:
            last = pd.Series(group["price"].to_numpy(float), index=times).groupby(level=0).last()
            price = last.reindex(index.union(last.index)).ffill().reindex(index)
        mult = float(group["multiplier"].iloc[-1] or 1.0)
        value = (held * price.fillna(0.0) * mult).fillna(0.0)
        net += value
        gross += value.abs()
    return net, gross


def strategy_base(target_weight: float, account_base: float) -> tuple[float, str]:
    if target_weight > 0:
        return (target_weight * account_base,
                f"target weight {target_weight:g} x the account's capital base "
                f"{account_base:,.2f}")
    return account_base, "the account's capital base (target weight 0)"


def pnl_curve(samples: pd.DataFrame, strategies: Iterable[str] | None) -> pd.DataFrame:
    """P&L (``equity``) and net market value of the named books (all: None) summed at each
    sample time; a book not yet sampled counts 0, a later gap keeps its last value."""
    df = samples if strategies is None else samples[samples["strategy"].isin(list(strategies))]
    if df.empty:
        return pd.DataFrame(columns=["equity", "market_value"],
                            index=pd.DatetimeIndex([], tz="UTC"))
    out = {}
    for col in ("equity", "market_value"):
        wide = df.pivot_table(index="ts", columns="strategy", values=col, aggfunc="last")
        out[col] = wide.ffill().fillna(0.0).sum(axis=1)
    return pd.DataFrame(out)


def live_book(name: str, samples: pd.DataFrame, fills: pd.DataFrame, capital_base: float,
              base_rule: str) -> Book:
    """A book from the broker's equity samples and fills (`name` ACCOUNT: every book, the
    unattributed one included). Its curve starts at the capital base just before the first
    sample: strategies and the account start with no P&L."""
    who = None if name == ACCOUNT else [name]
    curve = pnl_curve(samples, who)
    mine = fills if who is None else fills[fills["strategy"] == name]
    mine = mine.reset_index(drop=True)
    if len(curve):  # the start: the capital base, with no P&L and no position yet
        curve = pd.concat([pd.DataFrame({"equity": [0.0], "market_value": [0.0]},
                                        index=[curve.index[0] - pd.Timedelta(1, "us")]),
                           curve])
    equity = capital_base + curve["equity"]
    net, gross = exposures(mine, pd.DatetimeIndex(equity.index))
    net = curve["market_value"]  # the ledger's marks: exact
    gross = np.maximum(gross, net.abs())
    return Book(name, equity.rename("equity"), capital_base, base_rule, mine,
                net.rename("net"), pd.Series(gross, index=equity.index, name="gross"))


def backtest_book(name: str, equity: pd.Series, fills: pd.DataFrame,
                  closes: Mapping[str, pd.Series], capital: float, capital_base: float,
                  base_rule: str) -> Book:
    """A book from a replay: `equity` is the replay's account (`capital` + the strategy's
    P&L), `fills` its fills (time, instrument key, signed quantity, price, commission,
    local_id), `closes` each instrument's closes by time. The fills go through the broker's
    ledger, so trades.csv has the realized P&L of each fill exactly as live."""
    ledger = Ledger()
    con_ids = {key: n for n, key in enumerate(sorted({*closes, *fills["instrument"]}), 1)}
    for n, f in enumerate(fills.itertuples(index=False), 1):
        inst = from_key(str(f.instrument))
        exec_id = f"bt.{n:08x}.01"
        ledger.apply_execution(Execution(
            exec_id, n, n, 0, f"ats:{name}:{f.local_id}", "BACKTEST", con_ids[inst.key],
            inst.symbol, inst.sec_type, inst.currency, inst.multiplier,
            BOT if f.quantity > 0 else SLD, abs(float(f.quantity)), float(f.price),
            pd.Timestamp(f.time).to_pydatetime()))
        ledger.apply_commission(CommissionReport(exec_id, float(f.commission), inst.currency,
                                                 None))
    rows = fills_frame(ledger.fill_rows())
    curve = (equity - capital + capital_base).rename("equity")
    index = pd.DatetimeIndex(curve.index)
    marks = pd.DataFrame({con_ids[k]: _utc_series(s) for k, s in closes.items()})
    net, gross = exposures(rows, index, marks if len(marks.columns) else None)
    return Book(name, curve, capital_base, base_rule, rows, net.rename("net"),
                gross.rename("gross"))


def _utc_series(s: pd.Series) -> pd.Series:
    idx = pd.DatetimeIndex(s.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return pd.Series(s.to_numpy(float), index=idx).groupby(level=0).last()
