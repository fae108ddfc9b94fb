"""sie: sector rotation by blended 3-, 6- and 12-month momentum, rebalanced monthly.

Logic: at each month end (`minutes_before_close` before the last close of the month) score
each sector ETF by the mean of its returns over `lookbacks` sessions (63, 126, 252 = 3, 6 and
12 months). Hold the `top_n` highest scores equally weighted (target weight / top_n each of the
capital, times `exposure`), optionally only those with a positive score (`absolute_filter`),
and close the rest.

Parameters (defaults): symbols XLK XLF XLE XLV XLI XLY XLP XLU XLB XLRE XLC,
lookbacks (63, 126, 252), top_n 3, exposure 1.0, absolute_filter false.
Universe: US sector ETFs. Data: daily bars, max(lookbacks) + 5. Schedule: month_end.

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused order (entry or exit) is tried
again at the next month end, which orders toward that month's selection from the book; a
partly filled one is topped up then (within `tolerance`). After a restart it keeps what it
holds until the next month end. A missing bar: momentum uses the bars it has; a name with too
few bars is not selected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ats.sdk import BarSpec, ParamError, Params, Stock, Strategy, param
from ats.sdk.indicators import pct_return

SECTORS = ("XLK", "XLF", "XLE", "XLV", "XLI", "XLY", "XLP", "XLU", "XLB", "XLRE", "XLC")


@dataclass(frozen=True)
class SieParams(Params):
    symbols: tuple[str, ...] = param(SECTORS, "sector ETFs ranked")
    lookbacks: tuple[int, ...] = param((63, 126, 252), "momentum windows (sessions)")
    top_n: int = param(3, "sectors held", min=1)
    exposure: float = param(1.0, "fraction of capital invested, split equally", min=0.0,
                            max=1.0)
    absolute_filter: bool = param(False, "hold only sectors with a positive score")
    tolerance: float = param(0.02, "skip resizes below this fraction of capital",
                             min=0.0, max=0.5)
    minutes_before_close: int = param(15, "month-end decision time before the close", min=1)

    def validate(self) -> None:
        if not self.lookbacks or min(self.lookbacks) < 1:
            raise ParamError("lookbacks", "needs one or more positive windows")
        if self.top_n > len(self.symbols):
            raise ParamError("top_n", f"exceeds the {len(self.symbols)} symbols")


def momentum_score(closes: np.ndarray, lookbacks: tuple[int, ...]) -> float:
    """Mean of the returns over each lookback (NaN if any window is too long)."""
    rets = [pct_return(closes, n) for n in lookbacks]
    return float("nan") if any(math.isnan(r) for r in rets) else float(np.mean(rets))


def sie_selection(scores: dict[str, float], top_n: int, absolute_filter: bool) -> list[str]:
    """The top_n names by score, highest first (NaN scores excluded)."""
    ranked = sorted(((v, s) for s, v in scores.items() if v == v), reverse=True)
    return [s for v, s in ranked[:top_n] if not absolute_filter or v > 0]


class Sie(Strategy[SieParams]):
    params_type = SieParams
    sizes_by_weight = True
    description = "Sector rotation: top 3 sector ETFs by 3/6/12-month momentum, monthly"

    def subscriptions(self) -> list[BarSpec]:
        n = max(self.params.lookbacks) + 5
        return [BarSpec(Stock(s), "1d", n) for s in self.params.symbols]

    def on_init(self) -> None:
        self.holding: list[str] = []

    def on_start(self) -> None:
        self.schedule.month_end(self.rebalance, self.params.minutes_before_close)

    def rebalance(self) -> None:
        p = self.params
        scores = {s: momentum_score(self.closes(Stock(s)), p.lookbacks) for s in p.symbols}
        if all(v != v for v in scores.values()):
            self.log.info("not enough history for %d-session momentum", max(p.lookbacks))
            return
        chosen = sie_selection(scores, p.top_n, p.absolute_filter)
        self.log.info("month end: holding %s", chosen)
        for sym in p.symbols:
            if sym not in chosen:
                self.flatten(Stock(sym))
        for sym in chosen:
            self.order_target_percent(Stock(sym), p.exposure / p.top_n, tolerance=p.tolerance)
        self.holding = chosen

    def on_save(self) -> dict[str, object]:
        return {"holding": self.holding}

    def on_load(self, state: dict[str, object]) -> None:
        holding = state.get("holding", [])
        self.holding = [str(s) for s in holding] if isinstance(holding, list) else []

    def on_stop(self) -> None:
        self.log.info("sie stopped holding %s", self.holding)
