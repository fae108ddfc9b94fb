"""smag7: a moving-average trend rule, short the seven largest US tech stocks in downtrends.

Logic (the original system's defaults): each day before the close, for each of the seven
names
- short at `exposure_per_name` (-5%) of capital when the close is below its `sma_days` (50)
  simple moving average and the name is armed;
- while short, track the lowest close since entry; the trailing stop is
  lowest close + `atr_mult` (3) x ATR(`atr_days` = 20). A close at or above the stop covers
  and disarms the name; a close above the average covers too (the trend rule);
- a disarmed name re-arms once it closes above its average again, so a stopped-out short is
  not re-entered in the same down leg.

Parameters (defaults): symbols AAPL MSFT NVDA AMZN GOOGL META TSLA, sma_days 50,
atr_days 20, atr_mult 3.0, exposure_per_name -0.05.
Universe: seven large US tech stocks. Data: daily bars, sma_days + 5.
Schedule: before_close daily.

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused short is forgotten, so the
next decision shorts again while the name is below its average and armed. A partly filled
short is held as filled and its cover closes all of it. A short still held after its cover
(refused or partly filled) is covered again at the next decision. After a restart the saved
lowest closes and disarmed names keep managing the shorts; a short with no record is covered.
A missing bar: the average and ATR use the bars it has; a name with too few bars is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sdk import BarSpec, ParamError, Params, Stock, Strategy, param
from ats.sdk.indicators import atr, sma
from ats.sdk.orders import OrderHandle, OrderStatus

MAG7 = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA")


@dataclass(frozen=True)
class Smag7Params(Params):
    symbols: tuple[str, ...] = param(MAG7, "names traded")
    sma_days: int = param(50, "trend average (days)", min=2)
    atr_days: int = param(20, "ATR length for the trailing stop (days)", min=2)
    atr_mult: float = param(3.0, "trailing stop distance in ATRs", min=0.1)
    exposure_per_name: float = param(-0.05, "position size per name (negative = short)",
                                     min=-1.0, max=0.0)
    minutes_before_close: int = param(15, "daily decision time before the close", min=1)

    def validate(self) -> None:
        if not self.symbols:
            raise ParamError("symbols", "needs at least one symbol")


def trailing_stop(lowest_close: float, atr_value: float, mult: float) -> float:
    """Stop level of a short: the lowest close since entry plus mult x ATR."""
    return lowest_close + mult * atr_value


def smag7_action(close: float, average: float, short: bool, armed: bool,
                 stop: float | None) -> str:
    """One of 'enter', 'stop', 'exit' (trend), 'hold' (short) or 'wait' (flat)."""
    if short:
        if stop is not None and close >= stop:
            return "stop"
        if close > average:
            return "exit"
        return "hold"
    if armed and close < average:
        return "enter"
    return "wait"


class Smag7(Strategy[Smag7Params]):
    params_type = Smag7Params
    sizes_by_weight = True
    description = "Short mag-7 names below their 50-day average, ATR(20)x3 trailing stop"

    def subscriptions(self) -> list[BarSpec]:
        n = max(self.params.sma_days, self.params.atr_days + 1) + 5
        return [BarSpec(Stock(s), "1d", n) for s in self.params.symbols]

    def on_init(self) -> None:
        self.lowest: dict[str, float] = {}  #: symbol -> lowest close since the short entry
        self.disarmed: set[str] = set()
        self._entering: dict[str, str] = {}  #: entry order's local id -> symbol, until done

    def on_start(self) -> None:
        self.schedule.before_close(self.daily, minutes=self.params.minutes_before_close)

    def daily(self) -> None:
        p = self.params
        for sym in p.symbols:
            inst = Stock(sym)
            w = self.window(inst)
            if len(w) < max(p.sma_days, p.atr_days + 1):
                continue
            if sym not in self.lowest and self.position(inst):
                # Its cover was refused or only part-filled: cover again, decide tomorrow.
                self.log.warning("covering %s again: no longer held by its rules", sym)
                self.flatten(inst)
                continue
            c = w.closes()
            close, average = float(c[-1]), sma(c, p.sma_days)
            short = sym in self.lowest
            stop = None
            if short:
                self.lowest[sym] = min(self.lowest[sym], close)
                a = atr(w.column("high"), w.column("low"), c, p.atr_days)
                stop = trailing_stop(self.lowest[sym], a, p.atr_mult)
            if close > average:
                self.disarmed.discard(sym)
            action = smag7_action(close, average, short, sym not in self.disarmed, stop)
            if action == "enter":
                self.log.info("short %s: %.2f below SMA %.2f", sym, close, average)
                order = self.order_target_percent(inst, p.exposure_per_name)
                self.lowest[sym] = close
                if order is not None:
                    self._entering[order.local_id] = sym
            elif action in ("stop", "exit"):
                self.log.info("cover %s (%s) at %.2f", sym, action, close)
                self.flatten(inst)
                del self.lowest[sym]
                if action == "stop":
                    self.disarmed.add(sym)

    def on_order_status(self, order: OrderHandle) -> None:
        sym = self._entering.get(order.local_id)
        if sym is None or order.status not in OrderStatus.DONE:
            return
        del self._entering[order.local_id]
        if not order.filled and not self.position(Stock(sym)):
            # Refused, or cancelled unfilled: not short, so the next decision may enter again.
            self.log.warning("short of %s %s: %s", sym, order.status.lower(), order.reason)
            self.lowest.pop(sym, None)

    def on_save(self) -> dict[str, object]:
        return {"lowest": dict(self.lowest), "disarmed": sorted(self.disarmed)}

    def on_load(self, state: dict[str, object]) -> None:
        lowest, disarmed = state.get("lowest", {}), state.get("disarmed", [])
        if isinstance(lowest, dict):
            self.lowest = {str(k): float(v) for k, v in lowest.items()}
        if isinstance(disarmed, list):
            self.disarmed = {str(s) for s in disarmed}

    def on_stop(self) -> None:
        self.log.info("smag7 stopped, short %s", sorted(self.lowest))
