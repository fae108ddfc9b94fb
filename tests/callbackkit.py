"""A strategy that records what its scheduled callbacks see, for the tests of the rule that
a callback sees only the bars complete by its time (replay and live host alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from ats.sdk import BarSpec, Params, Stock, Strategy, param

SPY, QQQ = Stock("SPY"), Stock("QQQ")


@dataclass(frozen=True)
class SeerParams(Params):
    intraday: bool = param(False, "also subscribe to QQQ 5-minute bars")
    buy_weekly: float = param(0.0, "shares of SPY the weekly callback buys")


class Seer(Strategy[SeerParams]):
    """Records what each callback sees: its time, SPY's last daily bar, QQQ's last 5-minute bar."""

    params_type = SeerParams

    def subscriptions(self) -> list[BarSpec]:
        specs = [BarSpec(SPY, "1d", lookback=10)]
        if self.params.intraday:
            specs.append(BarSpec(QQQ, "5min", lookback=100))
        return specs

    def on_init(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def on_start(self) -> None:
        self.schedule.weekly(self.weekly, weekday=0, at=time(10, 0))
        self.schedule.before_close(self.before_close, minutes=15)

    def record(self, name: str) -> None:
        spy = self.bars(SPY)
        qqq = self.bars(QQQ) if self.params.intraday else spy.iloc[:0]
        self.seen.append((name, self.now.floor("min"),
                          spy.index[-1] if len(spy) else None,
                          float(spy["close"].iloc[-1]) if len(spy) else None,
                          qqq.index[-1] if len(qqq) else None,
                          float(qqq["close"].iloc[-1]) if len(qqq) else None))

    def weekly(self) -> None:
        self.record("weekly")
        if self.params.buy_weekly:
            self.order(SPY, self.params.buy_weekly)

    def before_close(self) -> None:
        self.record("before_close")

    def on_stop(self) -> None:
        pass
