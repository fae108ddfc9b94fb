"""Example: SMA crossover on SPY with 1-minute bars, small size, trades often (for demos).

Logic: on each bar, long `quantity` shares when the fast SMA of closes is above the slow SMA,
short `quantity` when below (flat instead if `allow_short` is false). The averages are of the
window's closes, kept up to date one close per bar (`ats.sdk.incremental.SMA`) and taken again
from the window when it changed otherwise (warm-up, a restart, a bar replaced).

Parameters (defaults): symbol SPY, fast 5, slow 20 bars, quantity 10 shares, allow_short true.
Universe: one stock/ETF. Schedule: none; acts on every bar (1-minute bars).

Edge cases (tests/unit/strategies/test_edge_cases.py): every bar orders the difference
between the signal's target and the position plus working orders, so a refused order is tried
again on the next bar and a partly filled one is topped up there; after a restart it trades
from the position it finds, never entering twice. A missing bar: no decision until the next
bar, whose averages use the bars it has.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sdk import Bar, BarSpec, ParamError, Params, Stock, Strategy, param
from ats.sdk.incremental import SMA


@dataclass(frozen=True)
class ExampleParams(Params):
    symbol: str = param("SPY", "stock or ETF to trade")
    fast: int = param(5, "fast SMA length (bars)", min=1)
    slow: int = param(20, "slow SMA length (bars)", min=2)
    quantity: int = param(10, "shares per position", min=1)
    allow_short: bool = param(True, "short when fast < slow (else flat)")
    bar_size: str = param("1min", "bar size", choices=("5s", "1min", "5min", "15min", "1h", "1d"))

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise ParamError("fast", f"must be < slow ({self.slow}), got {self.fast}")


def crossover_signal(fast_sma: float, slow_sma: float) -> int:
    """+1 when the fast average is above the slow one, -1 below, 0 when equal."""
    return (fast_sma > slow_sma) - (fast_sma < slow_sma)


class Example(Strategy[ExampleParams]):
    params_type = ExampleParams
    description = "SMA crossover demo: small size, trades often"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        return [BarSpec(Stock(p.symbol), p.bar_size, lookback=p.slow + 1)]

    def on_init(self) -> None:
        self.inst = Stock(self.params.symbol)
        self._fast = SMA(self.params.fast)
        self._slow = SMA(self.params.slow)
        self._fed = -1  #: the window's `changes` when the averages last took a close (-1: never)
        self._fed_time = 0  #: the time of the newest bar they took (ns)

    def on_start(self) -> None:
        self.log.info("example started on %s", self.inst.key)

    def on_bar(self, bar: Bar) -> None:
        p, inst = self.params, self.inst
        w = self.window(inst)
        if bar.instrument != inst.key or len(w) < p.slow:
            return
        t = bar.time.value
        if w.changes == self._fed + 1 and t > self._fed_time:  # the window's one change: bar
            close = bar.close
            fast, slow = self._fast.update(close), self._slow.update(close)
            self._fed_time = t
        else:  # the window changed otherwise (warm-up, a bar replaced): take its closes again
            self._fast, self._slow = SMA(p.fast), SMA(p.slow)
            c = w.closes()
            fast, slow = self._fast.extend(c[-p.fast :]), self._slow.extend(c[-p.slow :])
            self._fed_time = w.last_ns() or 0
        self._fed = w.changes
        sig = crossover_signal(fast, slow)
        if sig < 0 and not p.allow_short:
            sig = 0
        target = sig * p.quantity
        if self.position(inst) + self.pending(inst) != target:
            self.order_target_quantity(inst, target)

    def on_params_changed(self, old: ExampleParams, new: ExampleParams) -> None:
        self._fed = -1  # new lengths or a new symbol: the averages start again from the window
        if new.symbol != old.symbol:
            self.flatten(self.inst)
            self.inst = Stock(new.symbol)

    def on_stop(self) -> None:
        self.log.info("example stopped")
