"""The live system's books measured from what the broker answers: the account's capital base
from its account values and P&L, and each book's report (what `ats-ctl report` and the web
console's Performance page show)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ats.broker.account import account_totals
from ats.report.build import Report, build
from ats.report.inputs import ACCOUNT, live_book, strategy_base
from ats.report.metrics import clean
from ats.report.tearsheet import SHORT_RECORD

#: the figures of a book shown in a table, in order
TABLE_FIGURES = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
                 "calmar", "hit_rate", "profit_factor", "turnover", "commissions")


def account_base(account_values: Iterable[Mapping[str, Any]],
                 pnl_rows: Iterable[Mapping[str, Any]]) -> float | None:
    """The account's starting equity: the venues' NetLiquidation less the P&L of every book
    (None when no venue has reported it)."""
    nlv = account_totals(account_values).get("NetLiquidation")
    return None if nlv is None else nlv - sum(float(r["equity"]) for r in pnl_rows)


def measure_books(samples: pd.DataFrame, fills: pd.DataFrame, base: float, rule: str,
                  weights: Mapping[str, float]) -> dict[str, Report]:
    """The account's report and each sampled strategy's (on its target weight of `base`),
    without a benchmark."""
    out = {ACCOUNT: build(live_book(ACCOUNT, samples, fills, base, rule), None)}
    for name in sorted(set(samples["strategy"])):
        sbase, srule = strategy_base(float(weights.get(name, 0.0)), base)
        out[name] = build(live_book(name, samples, fills, sbase, srule), None)
    return out


def table_rows(reports: Mapping[str, Report]) -> list[dict[str, Any]]:
    """One row per book: its name, capital base, period of record and TABLE_FIGURES."""
    rows = []
    for name, r in reports.items():
        info = r.metrics
        n = int(info.get("n_returns") or 0)
        rows.append(clean({"name": name, "capital_base": info["capital_base"],
                           "start": info["start"], "end": info["end"],
                           "periods_per_year": info.get("periods_per_year"),
                           "record": f"{n} {info.get('frequency', '')} returns",
                           # as the report says: annualised figures of so short a record
                           # say little
                           "short_record": n < SHORT_RECORD,
                           **{k: info.get(k) for k in TABLE_FIGURES}}))
    return rows
