"""A test strategy whose orders the system tests control through its params at runtime.

mode "idle": nothing. "rest": keep one buy limit order resting far below the market (placed
only when the strategy has no open order, so a restart that re-adopts it places none); every
10th bar it logs how many open orders it holds, which tests read as proof that bars went by.
"churn": every bar, a market order that flips between long and flat `quantity`.
"hold": hold `quantity` shares long.
"crash": raise in on_start (a strategy bug that kills the process at every start).
Every mode logs the execution corrections on_fill is told of.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sdk import Bar, BarSpec, Params, Stock, Strategy, param
from ats.sdk.orders import Fill, OrderHandle, OrderStatus


@dataclass(frozen=True)
class ProbeParams(Params):
    mode: str = param("idle", "idle | rest | churn | hold | crash",
                      choices=("idle", "rest", "churn", "hold", "crash"))
    symbol: str = param("SPY", "stock to trade")
    quantity: int = param(10, "shares per order", min=1)
    offset: float = param(0.2, "rest: limit price this fraction below the market")


class Probe(Strategy[ProbeParams]):
    params_type = ProbeParams
    description = "system-test probe"

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(Stock(self.params.symbol), "5s", lookback=2)]

    def on_init(self) -> None:
        self.rest_bars = 0

    def on_start(self) -> None:
        if self.params.mode == "crash":
            raise RuntimeError("probe: crashing on purpose")
        self.log.info("probe started in mode %s with %d open orders", self.params.mode,
                      len(self.open_orders()))

    def on_bar(self, bar: Bar) -> None:
        inst = Stock(self.params.symbol)
        p = self.params
        if p.mode == "rest":
            self.rest_bars += 1
            if self.rest_bars % 10 == 0:
                self.log.info("probe rest: %d open orders after %d bars",
                              len(self.open_orders()), self.rest_bars)
            if not self.open_orders():
                price = round(bar.close * (1 - p.offset), 2)
                self.order(inst, p.quantity, order_type="LMT", limit=price, tif="GTC")
        elif p.mode == "hold" and not self.open_orders():
            self.order_target_quantity(inst, p.quantity)
        elif p.mode == "churn" and not self.open_orders():
            self.order_target_quantity(inst, 0 if self.position(inst) > 0 else p.quantity)

    def on_order_status(self, order: OrderHandle) -> None:
        if order.status == OrderStatus.REJECTED:
            self.log.info("probe saw %s rejected: %s", order.local_id, order.reason)

    def on_fill(self, fill: Fill) -> None:
        if fill.correction:
            self.log.info("probe saw a correction: %+g %s @ %g", fill.quantity, fill.instrument,
                          fill.price)

    def on_stop(self) -> None:
        self.log.info("probe stopped")
