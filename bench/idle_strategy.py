"""An idle strategy for bench_scale: one 1-minute bar subscription, never an order."""

from __future__ import annotations

from dataclasses import dataclass

from ats.sdk import Bar, BarSpec, Params, Stock, Strategy, param


@dataclass(frozen=True)
class IdleParams(Params):
    symbol: str = param("SPY", "stock whose bars it receives")


class Idle(Strategy[IdleParams]):
    params_type = IdleParams
    description = "bench: receives bars, does nothing"

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(Stock(self.params.symbol), "1min", lookback=2)]

    def on_start(self) -> None:
        self.log.info("idle")

    def on_bar(self, bar: Bar) -> None:
        pass

    def on_stop(self) -> None:
        self.log.info("idle stopped")
