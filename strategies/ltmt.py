"""LTMT: long-term momentum / market timing on a broad equity ETF.

Logic: at each month end (the last session of the month, `minutes_before_close` before the
close) compare the month-end close of `symbol` with the average of the last `ma_months`
month-end closes (this month included; as every callback, it sees only complete bars, so this
month's close is the one of the session before: ats/sdk/GUIDE.md, "What a callback sees").
Above the average: hold the ETF at the strategy's
target weight. At or below: go flat. Between month ends, while long, the position is brought
back to the target weight whenever its weight drifts out of the [min, max] band (checked daily
before the close).

Parameters (defaults): symbol ACWI, ma_months 10, minutes_before_close 15.
Universe: one ETF (ACWI). Data: daily bars, about ma_months * 23 sessions of history.
Schedule: month_end (signal), before_close daily (band rebalance while long).

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused or partly filled entry is
brought back to the target weight by the next daily band check; while the signal is flat, a
position still held (a refused or partly filled exit) is closed at the next daily check. After
a restart the saved signal (`long`) keeps the position as it was (with no saved state the
signal reads flat and the position is closed before the close). A missing bar: the month-end
close is the last bar of the month it has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ats.sdk import BarSpec, Params, Stock, Strategy, param


@dataclass(frozen=True)
class LtmtParams(Params):
    symbol: str = param("ACWI", "broad equity ETF to time")
    ma_months: int = param(10, "moving average length in month-end closes", min=2, max=60)
    minutes_before_close: int = param(15, "month-end decision time before the close", min=1)


def month_end_closes(closes: pd.Series) -> pd.Series:
    """Last close of each calendar month, from a daily close series indexed by time."""
    idx = pd.DatetimeIndex(closes.index)
    daily_stamps = bool((idx == idx.normalize()).all())
    if idx.tz is not None and not daily_stamps:  # intraday bars: months in exchange time
        idx = idx.tz_convert("America/New_York")
    period = idx.year * 12 + idx.month
    last = np.r_[period[1:] != period[:-1], True]
    return closes[last]


def ltmt_signal(monthly_closes: np.ndarray, ma_months: int) -> bool | None:
    """True when the last month-end close is above the average of the last `ma_months`
    month-end closes (itself included); None with too little history."""
    if len(monthly_closes) < ma_months:
        return None
    window = np.asarray(monthly_closes[-ma_months:], dtype=float)
    return bool(window[-1] > window.mean())


class Ltmt(Strategy[LtmtParams]):
    params_type = LtmtParams
    sizes_by_weight = True
    description = "Hold ACWI above its 10-month average at month end, else flat"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        return [BarSpec(Stock(p.symbol), "1d", lookback=p.ma_months * 23 + 10)]

    def on_init(self) -> None:
        self.inst = Stock(self.params.symbol)
        self.long = False

    def on_start(self) -> None:
        self.schedule.month_end(self.month_end, self.params.minutes_before_close)
        self.schedule.before_close(self.keep_in_band, minutes=self.params.minutes_before_close)

    def month_end(self) -> None:
        df = self.bars(self.inst)
        signal = ltmt_signal(month_end_closes(df["close"]).to_numpy(), self.params.ma_months)
        if signal is None:
            self.log.info("not enough history for a %d-month average", self.params.ma_months)
            return
        self.long = signal
        self.log.info("month end: %s", "long" if signal else "flat")
        if signal:
            self.rebalance_to_weight(self.inst)
        else:
            self.flatten(self.inst)

    def keep_in_band(self) -> None:
        if not self.long:
            if self.position(self.inst):  # an exit refused or part-filled: try again
                self.log.warning("closing %s again while the signal is flat", self.inst.key)
                self.flatten(self.inst)
        elif not math.isclose(self.weights.target, 0.0):
            self.rebalance_to_weight(self.inst)

    def on_save(self) -> dict[str, object]:
        return {"long": self.long}

    def on_load(self, state: dict[str, object]) -> None:
        self.long = bool(state.get("long", False))

    def on_stop(self) -> None:
        self.log.info("ltmt stopped (long=%s)", self.long)
