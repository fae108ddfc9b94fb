"""short_rsi_thrust: short overbought names after an RSI thrust below a long-term trend.

Logic: each day before the close, for each name in the universe compute RSI(`rsi_period`)
(Wilder) and the `trend_days` simple moving average of closes.
- Entry: RSI >= `entry_rsi` while the close is below its long-term average (a counter-trend
  thrust in a downtrend). Candidates are ranked by RSI, highest first, and shorted at
  `exposure_per_name` x capital each, up to `max_names` held in total.
- Cover: RSI <= `cover_rsi` (reverted), or the close is `stop_pct` above the entry price
  (stop), or after `max_hold_days` sessions.
- An entry is recorded when its order is accepted; a refusal (risk, venue) or a cancel before
  any fill forgets it, so the name can be shorted again at a later decision.

Parameters (defaults): symbols AAPL MSFT NVDA AMZN GOOGL META TSLA KO PEP XOM CVX,
rsi_period 3, entry_rsi 90, cover_rsi 30, trend_days 200, exposure_per_name 0.1,
max_names 5, stop_pct 0.08, max_hold_days 10.
Universe: liquid US large caps. Data: daily bars, trend_days + 5. Schedule: before_close.

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused short is forgotten (above).
A partly filled short is held as filled, from its fill price, and its cover closes all of it.
A short still held after its cover (refused or partly filled) is covered again at the next
decision. After a restart the saved entries (price, days held) keep managing the shorts; a
short with no record of its entry is covered. A missing bar: RSI and trend use the bars it
has; a name with too few bars is neither shorted nor covered that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ats.sdk import BarSpec, Fill, ParamError, Params, Stock, Strategy, param
from ats.sdk.indicators import rsi, sma
from ats.sdk.orders import OrderHandle, OrderStatus

DEFAULT_UNIVERSE = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA",
                    "KO", "PEP", "XOM", "CVX")


@dataclass(frozen=True)
class ShortRsiThrustParams(Params):
    symbols: tuple[str, ...] = param(DEFAULT_UNIVERSE, "universe of liquid names")
    rsi_period: int = param(3, "RSI length (days)", min=2)
    entry_rsi: float = param(90.0, "short when RSI is at or above this", min=50, max=100)
    cover_rsi: float = param(30.0, "cover when RSI is at or below this", min=0, max=90)
    trend_days: int = param(200, "long-term trend average (days)", min=5)
    exposure_per_name: float = param(0.1, "short size per name, fraction of capital", min=0.0,
                                     max=1.0)
    max_names: int = param(5, "cap on names held short", min=1)
    stop_pct: float = param(0.08, "cover when the close is this far above entry", min=0.0)
    max_hold_days: int = param(10, "cover after this many sessions", min=1)
    minutes_before_close: int = param(15, "daily decision time before the close", min=1)

    def validate(self) -> None:
        if not self.symbols:
            raise ParamError("symbols", "needs at least one symbol")
        if self.cover_rsi >= self.entry_rsi:
            raise ParamError("cover_rsi", f"must be < entry_rsi ({self.entry_rsi})")


@dataclass
class Held:
    entry: float
    days: int = 0


@dataclass
class Snapshot:
    """Per-name inputs of one decision."""

    close: float
    rsi: float
    trend: float


def rsi_thrust_entries(snaps: dict[str, Snapshot], held: set[str],
                       p: ShortRsiThrustParams) -> list[str]:
    """Names to short now: thrust below trend, highest RSI first, within the cap."""
    room = p.max_names - len(held)
    if room <= 0:
        return []
    cands = [(s.rsi, sym) for sym, s in snaps.items()
             if sym not in held and s.rsi >= p.entry_rsi and s.close < s.trend]
    return [sym for _, sym in sorted(cands, reverse=True)[:room]]


def should_cover(snap: Snapshot, held: Held, p: ShortRsiThrustParams) -> str | None:
    """Why to cover a short now ('reverted', 'stop', 'time'), or None to keep it."""
    if snap.rsi <= p.cover_rsi:
        return "reverted"
    if snap.close >= held.entry * (1 + p.stop_pct):
        return "stop"
    if held.days >= p.max_hold_days:
        return "time"
    return None


class ShortRsiThrust(Strategy[ShortRsiThrustParams]):
    params_type = ShortRsiThrustParams
    sizes_by_weight = True
    description = "Short RSI(3) > 90 thrusts below the 200-day trend, cover on reversion/stop"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        n = max(p.trend_days, p.rsi_period * 10) + 5
        return [BarSpec(Stock(s), "1d", n) for s in p.symbols]

    def on_init(self) -> None:
        self.held: dict[str, Held] = {}
        self._entering: list[tuple[OrderHandle, str]] = []  #: entry orders not yet done

    def on_start(self) -> None:
        self.schedule.before_close(self.daily, minutes=self.params.minutes_before_close)

    def snapshot(self, sym: str) -> Snapshot | None:
        p = self.params
        c = self.closes(Stock(sym))
        if len(c) < max(p.trend_days, p.rsi_period + 1):
            return None
        return Snapshot(float(c[-1]), rsi(c[-(p.rsi_period * 10) :], p.rsi_period),
                        sma(c, p.trend_days))

    def daily(self) -> None:
        p = self.params
        snaps = {s: snap for s in p.symbols if (snap := self.snapshot(s)) is not None}
        for key in self.ctx.positions():
            if key.split(".")[0] not in self.held:  # its cover was refused or part-filled
                self.log.warning("covering %s again: no longer held by its rules", key)
                self.flatten(Stock(key.split(".")[0]))
        for sym in list(self.held):
            h = self.held[sym]
            h.days += 1
            snap = snaps.get(sym)
            reason = should_cover(snap, h, p) if snap is not None else None
            if reason:
                self.log.info("cover %s (%s)", sym, reason)
                self.flatten(Stock(sym))
                del self.held[sym]
        for sym in rsi_thrust_entries(snaps, set(self.held), p):
            self.log.info("short %s: RSI %.1f below trend", sym, snaps[sym].rsi)
            order = self.order_target_percent(Stock(sym), -p.exposure_per_name)
            if order is None or order.status == OrderStatus.REJECTED:
                self.log.warning("no short of %s: %s", sym,
                                 "nothing to order" if order is None else order.reason)
                continue
            # Held from the order on, so that it is not shorted again while working; a
            # refusal that arrives later undoes it (on_order_status).
            self.held[sym] = Held(entry=snaps[sym].close)
            self._entering.append((order, sym))

    def on_order_status(self, order: OrderHandle) -> None:
        for pair in [e for e in self._entering if e[0] is order]:
            sym = pair[1]
            if order.status == OrderStatus.REJECTED or (
                    order.status == OrderStatus.CANCELLED and not order.filled):
                self.log.warning("short of %s %s: %s", sym, order.status.lower(), order.reason)
                if not self.position(Stock(sym)):
                    self.held.pop(sym, None)
            if order.status in OrderStatus.DONE:
                self._entering.remove(pair)

    def on_fill(self, fill: Fill) -> None:
        sym = fill.instrument.split(".")[0]
        if sym in self.held and fill.quantity < 0:
            self.held[sym].entry = fill.price

    def on_reconcile(self, saved: Mapping[str, float], book: Mapping[str, float]) -> None:
        # Its covers need the entry and the days held: a short it has no record of is closed.
        for key, qty in book.items():
            sym = key.split(".")[0]
            if qty and sym not in self.held:
                self.log.warning("covering %s %+g: no record of its entry", key, qty)
                self.flatten(Stock(sym))

    def on_save(self) -> dict[str, object]:
        return {"held": {s: [h.entry, h.days] for s, h in self.held.items()}}

    def on_load(self, state: dict[str, object]) -> None:
        held = state.get("held", {})
        if isinstance(held, dict):
            self.held = {str(s): Held(float(v[0]), int(v[1])) for s, v in held.items()}

    def on_stop(self) -> None:
        self.log.info("short_rsi_thrust stopped holding %s", sorted(self.held))


