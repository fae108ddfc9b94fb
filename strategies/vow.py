"""vow: volume-weighted (VWAP) intraday trading.

Logic: on every intraday bar, keep the session VWAP of each symbol (typical price
(high + low + close) / 3 weighted by volume, reset each session) and the average bar volume
over the last `vol_window` bars. A bar is volume-confirmed when its volume is at least
`vol_mult` x that average.
- mode "reversion": a confirmed close `dev_pct` below VWAP buys, `dev_pct` above sells short
  (when `allow_short`); exit when the price gets back to VWAP;
- mode "breakout": a confirmed close `dev_pct` above VWAP buys, below sells short; exit when
  the price falls back through VWAP.
Either way a position is also closed at `stop_pct` against its entry, and everything is
flattened `flatten_minutes` before the close (no new entries after that). Size:
`exposure_per_name` x capital per position.

Parameters (defaults): symbols SPY, bar_size 5min, mode reversion, dev_pct 0.004,
vol_mult 1.5, vol_window 20, stop_pct 0.006, exposure_per_name 0.2, allow_short true,
flatten_minutes 10.
Universe: liquid ETFs/stocks. Data: intraday bars. Schedule: before_close (flatten).

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused entry is forgotten, so a later
confirmed bar may enter again. A partly filled entry is held as filled and its exit closes all
of it. A position still held after its exit (refused or partly filled) is closed again on the
next bar, and the pre-close flatten closes every position. After a restart the saved entries
and session VWAP keep managing it; a position with no record of its entry is closed. A missing
bar: VWAP and average volume continue from the bars it has; no decision without a bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ats.sdk import Bar, BarSpec, Fill, OrderHandle, OrderStatus, Params, Stock, Strategy, param

_DAY_NS = 86_400_000_000_000


@dataclass(frozen=True)
class VowParams(Params):
    symbols: tuple[str, ...] = param(("SPY",), "names traded")
    bar_size: str = param("5min", "intraday bar size", choices=("1min", "5min", "15min"))
    mode: str = param("reversion", "fade or follow deviations", choices=("reversion", "breakout"))
    dev_pct: float = param(0.004, "deviation from VWAP that triggers an entry", min=0.0)
    vol_mult: float = param(1.5, "volume confirmation: bar volume / average", min=0.0)
    vol_window: int = param(20, "bars in the average volume", min=2)
    stop_pct: float = param(0.006, "stop distance from entry", min=0.0)
    exposure_per_name: float = param(0.2, "position size, fraction of capital", min=0.0,
                                     max=1.0)
    allow_short: bool = param(True, "take short entries")
    flatten_minutes: int = param(10, "flatten this long before the close", min=1)


def session_vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 day: np.ndarray) -> np.ndarray:
    """Running VWAP of the typical price, restarting whenever `day` changes."""
    tp = (np.asarray(high) + np.asarray(low) + np.asarray(close)) / 3.0
    out = np.empty(len(tp))
    pv = v = 0.0
    for i in range(len(tp)):
        if i and day[i] != day[i - 1]:
            pv = v = 0.0
        pv += tp[i] * volume[i]
        v += volume[i]
        out[i] = pv / v if v > 0 else tp[i]
    return out


def vow_entry(price: float, vwap: float, volume: float, avg_volume: float, p: VowParams) -> int:
    """+1 buy, -1 sell short, 0 nothing."""
    if avg_volume <= 0 or volume < p.vol_mult * avg_volume:
        return 0
    side = 0
    if price <= vwap * (1 - p.dev_pct):
        side = 1
    elif price >= vwap * (1 + p.dev_pct):
        side = -1
    if p.mode == "breakout":
        side = -side
    return 0 if side < 0 and not p.allow_short else side


def vow_exit(direction: int, price: float, vwap: float, entry: float, p: VowParams) -> str | None:
    """'vwap' or 'stop' when a position of `direction` should close, else None."""
    if direction * (price - entry) <= -p.stop_pct * entry:
        return "stop"
    gap = direction * (price - vwap)
    if (p.mode == "reversion" and gap >= 0) or (p.mode == "breakout" and gap <= 0):
        return "vwap"
    return None


@dataclass
class _Session:
    day: int = -1
    pv: float = 0.0
    v: float = 0.0

    def update(self, bar: Bar) -> float:
        day = bar.time.value // _DAY_NS
        if day != self.day:
            self.day, self.pv, self.v = day, 0.0, 0.0
        tp = (bar.high + bar.low + bar.close) / 3.0
        self.pv += tp * bar.volume
        self.v += bar.volume
        return self.pv / self.v if self.v > 0 else tp


class Vow(Strategy[VowParams]):
    params_type = VowParams
    sizes_by_weight = True
    description = "Intraday VWAP deviations confirmed by volume; exit at VWAP or stop"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        # Regular hours only: pre- and post-market bars would move its VWAP and volumes.
        return [BarSpec(Stock(s), p.bar_size, p.vol_window + 2, regular_hours=True)
                for s in p.symbols]

    def on_init(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.entries: dict[str, tuple[int, float]] = {}  #: key -> (direction, entry price)
        self.closed_day = -1
        self._entering: dict[str, str] = {}  #: entry order's local id -> key, until done

    def on_start(self) -> None:
        self.schedule.before_close(self.flatten_all, minutes=self.params.flatten_minutes)

    def flatten_all(self) -> None:
        self.closed_day = self.now.value // _DAY_NS
        for key in sorted(set(self.entries) | set(self.ctx.positions())):
            self.flatten(Stock(key.split(".")[0]))
        self.entries.clear()

    def on_bar(self, bar: Bar) -> None:
        p = self.params
        vwap = self.sessions.setdefault(bar.instrument, _Session()).update(bar)
        if bar.time.value // _DAY_NS == self.closed_day:
            return
        inst = Stock(bar.instrument.split(".")[0])
        held = self.entries.get(bar.instrument)
        if held is None and self.position(inst):
            self.log.warning("closing %s again: its exit was refused or part-filled", inst.key)
            self.flatten(inst)
            return
        if held is not None:
            reason = vow_exit(held[0], bar.close, vwap, held[1], p)
            if reason:
                self.log.info("exit %s (%s) at %.2f, VWAP %.2f", inst.key, reason, bar.close, vwap)
                self.flatten(inst)
                del self.entries[bar.instrument]
            return
        vols = self.window(inst).column("volume")
        if len(vols) < p.vol_window + 1:
            return
        avg = float(vols[-p.vol_window - 1 : -1].mean())
        side = vow_entry(bar.close, vwap, bar.volume, avg, p)
        if side:
            self.log.info("enter %s %+d at %.2f, VWAP %.2f", inst.key, side, bar.close, vwap)
            order = self.order_target_percent(inst, side * p.exposure_per_name)
            self.entries[bar.instrument] = (side, bar.close)
            if order is not None:
                self._entering[order.local_id] = bar.instrument

    def on_fill(self, fill: Fill) -> None:
        held = self.entries.get(fill.instrument)
        if held is not None and fill.quantity * held[0] > 0:
            self.entries[fill.instrument] = (held[0], fill.price)

    def on_order_status(self, order: OrderHandle) -> None:
        key = self._entering.get(order.local_id)
        if key is None or order.status not in OrderStatus.DONE:
            return
        del self._entering[order.local_id]
        if not order.filled and not self.position(order.request.instrument):
            # Refused, or cancelled unfilled: nothing is held, so a later bar may enter again.
            self.log.warning("entry in %s %s: %s", key, order.status.lower(), order.reason)
            self.entries.pop(key, None)

    def on_reconcile(self, saved: Mapping[str, float], book: Mapping[str, float]) -> None:
        # Exits compare with the entry price: a position it has no entry for is closed.
        for key, qty in book.items():
            if qty and key not in self.entries:
                self.log.warning("flattening %s %+g: no record of its entry", key, qty)
                self.flatten(Stock(key.split(".")[0]))

    def on_save(self) -> dict[str, object]:
        # The session's VWAP sums too: after a restart the exits compare with the same VWAP.
        return {"entries": {k: list(v) for k, v in self.entries.items()},
                "sessions": {k: [s.day, s.pv, s.v] for k, s in self.sessions.items()},
                "closed_day": self.closed_day}

    def on_load(self, state: dict[str, object]) -> None:
        entries = state.get("entries", {})
        if isinstance(entries, dict):
            self.entries = {str(k): (int(v[0]), float(v[1])) for k, v in entries.items()}
        sessions = state.get("sessions", {})
        if isinstance(sessions, dict):
            self.sessions = {str(k): _Session(int(v[0]), float(v[1]), float(v[2]))
                             for k, v in sessions.items()}
        closed = state.get("closed_day", -1)
        self.closed_day = closed if isinstance(closed, int) else -1

    def on_stop(self) -> None:
        self.log.info("vow stopped holding %s", sorted(self.entries))
