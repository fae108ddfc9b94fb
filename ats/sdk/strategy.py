"""The Strategy base class: hooks for authors, driver methods for the host and the backtest.

Authors override hooks (`on_start`, `on_bar`, ...) and call helpers (`self.order_target_percent`,
`self.schedule.month_end`, ...). The host process and `ats.sdk.backtest` call only the driver
methods (`warm_up`, `start`, `handle_bar(s)`, `handle_fill`, ..., `stop`), so the same strategy
code runs live and in replay.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd

from ats.sdk.bars import Bar, BarSpec, BarWindow, bar_end
from ats.sdk.context import Context
from ats.sdk.instrument import Instrument, days_to_expiry, from_key
from ats.sdk.orders import Fill, OrderHandle, OrderRequest
from ats.sdk.params import Params
from ats.sdk.schedule import Schedule
from ats.sdk.ticks import Tick, TickSpec
from ats.sdk.weights import NO_WEIGHTS, Weights

P = TypeVar("P", bound=Params)
InstOrKey = Instrument | str

#: Bars kept for an instrument that arrives without a BarSpec.
DEFAULT_WINDOW = 300
STATE_VERSION = 1
#: What the default `on_reconcile` does with a position the saved state does not account for.
ADOPT, FLATTEN = "adopt", "flatten"
#: A restart runs the scheduled callbacks that fell due while the strategy was down, when it
#: was down no longer than this (a crash and its restart); after a longer stop they are skipped.
MAX_CATCH_UP = pd.Timedelta(minutes=5)


class Strategy(Generic[P]):
    """Base class of every strategy. Subclass as `class Mine(Strategy[MyParams])`."""

    params_type: ClassVar[type[Params]] = Params
    description: ClassVar[str] = ""
    calendar: ClassVar[str] = "XNYS"
    #: ADOPT: manage a position found at start that the saved state does not account for
    #: like any other (exits, stops and targets apply to it); FLATTEN: close it at start.
    unknown_positions: ClassVar[str] = ADOPT

    def __init__(self, name: str, params: P, ctx: Context, weights: Weights = NO_WEIGHTS) -> None:
        if not isinstance(params, self.params_type):
            want, got = self.params_type.__name__, type(params).__name__
            raise TypeError(f"{type(self).__name__} needs {want}, got {got}")
        self.name = name
        self.params: P = params
        self.ctx = ctx
        self.weights = weights
        self.log = logging.getLogger(f"strategy.{name}")
        self.schedule = Schedule(self.calendar)
        self._windows: dict[str, BarWindow] = {}
        self._specs: dict[str, BarSpec] | None = None
        self._tick_specs: dict[str, TickSpec] | None = None
        self._started = False
        self._stopped = False
        #: positions saved with the state (None: no saved state); see `reconcile`
        self._saved_book: dict[str, float] | None = None
        #: the schedule's `fired_through` saved with the state; see `start`
        self._saved_schedule: int | None = None
        self.on_init()

    # ----------------------------------------------------------------- hooks for authors
    def subscriptions(self) -> list[BarSpec]:
        """Bars this strategy needs (one BarSpec per instrument). May use
        `ctx.futures_chain(root)` for the roots listed in `futures_symbols`."""
        return []

    def tick_subscriptions(self) -> list[TickSpec]:
        """Instruments whose ticks this strategy wants in `on_tick` (none by default)."""
        return []

    @property
    def futures_symbols(self) -> tuple[str, ...]:
        """Futures roots whose chains the host loads before calling subscriptions()."""
        return ()

    def on_init(self) -> None:
        """Create state attributes here: runs in __init__, before load_state and on_start."""

    def on_start(self) -> None:
        self.log.warning("%s does not override on_start", type(self).__name__)

    def on_bar(self, bar: Bar) -> None:
        pass

    def on_tick(self, tick: Tick) -> None:
        """A tick of an instrument in `tick_subscriptions()` (in a replay: one per bar, at its
        close)."""

    def on_fill(self, fill: Fill) -> None:
        pass

    def on_order_status(self, order: OrderHandle) -> None:
        pass

    def on_params_changed(self, old: P, new: P) -> None:
        pass

    def on_stop(self) -> None:
        self.log.warning("%s does not override on_stop", type(self).__name__)

    def on_save(self) -> dict[str, Any]:
        """JSON-safe state to keep across restarts."""
        return {}

    def on_load(self, state: dict[str, Any]) -> None:
        pass

    def on_reconcile(self, saved: Mapping[str, float], book: Mapping[str, float]) -> None:
        """At start, after `on_start`, when this strategy's positions at the broker (`book`)
        differ from those saved with its state (`saved`; empty when no state was saved), e.g.
        after a kill -9 between a fill and the next save. The default follows
        `unknown_positions`: ADOPT keeps the positions (the strategy's rules manage them from
        `self.position`); FLATTEN closes each position the saved state does not hold."""
        if self.unknown_positions != FLATTEN:
            return
        for key, qty in book.items():
            if qty and not saved.get(key):
                self.log.warning("flattening %s %+g: not in the saved state", key, qty)
                self.flatten(from_key(key))

    # ----------------------------------------------------------------- helpers for authors
    @property
    def now(self) -> pd.Timestamp:
        return self.ctx.now()

    def window(self, inst: InstOrKey) -> BarWindow:
        key = inst if isinstance(inst, str) else inst.key  # _key(inst), a call saved per bar
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = BarWindow(self._window_size(key))
        return w

    def bars(self, inst: InstOrKey) -> pd.DataFrame:
        """The rolling window of bars (open/high/low/close/volume) indexed by UTC time."""
        return self.window(inst).frame()

    def closes(self, inst: InstOrKey) -> np.ndarray:
        """Closes of the rolling window, oldest first (a fast read-only view)."""
        return self.window(inst).closes()

    def aligned_closes(self, *insts: InstOrKey) -> np.ndarray:
        """Closes of several instruments at the bar times they all have, one row per
        instrument, oldest first: a bar one of them misses drops that time from every row."""
        both = pd.concat([self.bars(i)["close"] for i in insts], axis=1, join="inner")
        out: np.ndarray = both.to_numpy(dtype=float).T
        return out

    def position(self, inst: Instrument) -> float:
        return self.ctx.position(inst)

    def price(self, inst: Instrument) -> float | None:
        """Last trade price, falling back to the last close in the window."""
        p = self.ctx.last_price(inst)
        if p is not None and math.isfinite(p) and p > 0:
            return p
        c = self.window(inst).closes()
        return float(c[-1]) if len(c) else None

    def capital(self) -> float:
        """What this strategy sizes from: target weight x account equity (own equity if 0)."""
        if self.weights.target > 0:
            return self.weights.target * self.ctx.account_equity()
        return self.ctx.equity()

    def pending(self, inst: Instrument) -> float:
        """Signed quantity still working in this strategy's open orders for `inst`."""
        orders = self.ctx.open_orders()
        if not orders:
            return 0
        key = inst.key
        return sum(h.remaining for h in orders if h.request.instrument.key == key)

    def order(
        self,
        inst: Instrument,
        quantity: float,
        *,
        order_type: str = "MKT",
        limit: float | None = None,
        stop: float | None = None,
        tif: str = "DAY",
    ) -> OrderHandle:
        req = OrderRequest(inst, quantity, order_type, limit, stop, tif)
        self.log.info("order %s %+g %s", inst.key, quantity, order_type)
        return self.ctx.submit(req)

    def order_target_quantity(self, inst: Instrument, quantity: float) -> OrderHandle | None:
        """Order the difference between `quantity` and position plus working orders."""
        delta = quantity - self.position(inst) - self.pending(inst)
        if abs(delta) < 1e-9:
            return None
        return self.order(inst, delta)

    def target_quantity(self, inst: Instrument, pct: float) -> float | None:
        """Whole shares/contracts worth `pct` of capital (signed; truncated toward zero)."""
        px = self.price(inst)
        if px is None:
            self.log.warning("no price for %s; cannot size", inst.key)
            return None
        return float(math.trunc(pct * self.capital() / (px * inst.multiplier)))

    def order_target_percent(
        self, inst: Instrument, pct: float, *, tolerance: float = 0.0
    ) -> OrderHandle | None:
        """Hold `pct` of capital in `inst` (negative for short). With `tolerance`, an adjustment
        of an existing same-side position smaller than tolerance x capital is skipped (no
        churn); opening, closing and flipping always trade."""
        qty = self.target_quantity(inst, pct)
        if qty is None:
            return None
        held = self.position(inst) + self.pending(inst)
        if tolerance > 0 and qty * held > 0:
            px = self.price(inst) or 0.0
            if abs(qty - held) * px * inst.multiplier < tolerance * self.capital():
                return None
        return self.order_target_quantity(inst, qty)

    def held_weight(self, inst: Instrument) -> float:
        """Signed value of position plus working orders as a fraction of account equity."""
        px = self.price(inst)
        acct = self.ctx.account_equity()
        if px is None or acct <= 0:
            return 0.0
        return (self.position(inst) + self.pending(inst)) * px * inst.multiplier / acct

    def rebalance_to_weight(self, inst: Instrument, sign: float = 1.0) -> OrderHandle | None:
        """Back to the target weight, only when the held weight is outside [min, max]."""
        if self.weights.in_band(sign * self.held_weight(inst)):
            return None
        px = self.price(inst)
        if px is None:
            return None
        acct = self.ctx.account_equity()
        qty = float(math.trunc(sign * self.weights.target * acct / (px * inst.multiplier)))
        return self.order_target_quantity(inst, qty)

    def flatten(self, inst: Instrument) -> OrderHandle | None:
        return self.order_target_quantity(inst, 0.0)

    def cancel(self, h: OrderHandle) -> None:
        self.ctx.cancel(h)

    def modify(
        self,
        h: OrderHandle,
        quantity: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> None:
        self.ctx.modify(h, quantity, limit, stop)

    def open_orders(self) -> list[OrderHandle]:
        return self.ctx.open_orders()

    def roll_future(self, held: Instrument, days_before_expiry: int) -> Instrument | None:
        """The contract to roll into when `held` is within `days_before_expiry` calendar days of
        expiry; None when no roll is due (or no later contract is listed)."""
        if held.expiry is None or days_to_expiry(held, self.now) > days_before_expiry:
            return None
        for c in self.ctx.futures_chain(held.symbol):
            if c.expiry is not None and c.expiry > held.expiry and (
                days_to_expiry(c, self.now) > days_before_expiry
            ):
                return c
        return None

    # ----------------------------------------------------------------- driver (host/backtest)
    def specs(self) -> dict[str, BarSpec]:
        if self._specs is None:
            self._specs = {s.instrument.key: s for s in self.subscriptions()}
        return self._specs

    def forget_specs(self) -> None:
        """Ask `subscriptions()` again at the next `specs()` (futures chains were reloaded)."""
        self._specs = None
        self._tick_specs = None

    def _window_size(self, key: str) -> int:
        spec = self.specs().get(key)
        return max(spec.lookback, 2) if spec is not None else DEFAULT_WINDOW

    def warm_up(self, instrument_key: str, bars_df: pd.DataFrame) -> None:
        """Load history (index: time, columns open/high/low/close/volume) before start."""
        self.window(instrument_key).extend(bars_df)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.on_start()
        skipped = self.schedule.start(self.ctx.now(), self._saved_schedule, MAX_CATCH_UP)
        if skipped:
            self.log.warning("scheduled callbacks due while stopped, more than %s ago, are "
                             "skipped: %s", MAX_CATCH_UP, ", ".join(skipped))

    def handle_bar(self, bar: Bar) -> None:
        self.handle_bars((bar,))

    def handle_bars(self, bars: Sequence[Bar]) -> None:
        """Bars complete at the same time: first the scheduled callbacks due before they were
        complete (without them), then every window is updated, then on_bar. What a callback
        sees depends only on its time: the bars that ended at or before it. Callbacks due from
        the bars' end on are the clock's (`advance_clock`): live, the host's clock runs them a
        moment late, once every bar ending by then has arrived."""
        running = self._started and not self._stopped
        if running and self.schedule._rules:  # len(self.schedule), a call saved per bar
            before = self.bars_end(bars) - pd.Timedelta(1, "ns")
            self.schedule.advance(min(self.ctx.now(), before))
        for b in bars:
            w = self._windows.get(b.instrument)
            if w is None:
                w = self.window(b.instrument)
            w.append(b.time.value, b.open, b.high, b.low, b.close, b.volume)
        if not running:
            return
        for b in bars:
            self.on_bar(b)

    def bars_end(self, bars: Sequence[Bar]) -> pd.Timestamp:
        """When the last of `bars` is complete, by their subscriptions' bar sizes (a bar of an
        instrument without one counts as complete at its time)."""
        specs = self.specs()
        kinds = {(b.time, specs[b.instrument].bar_size if b.instrument in specs else None)
                 for b in bars}
        return max(t if size is None else bar_end(t, size, self.calendar) for t, size in kinds)

    def tick_specs(self) -> dict[str, TickSpec]:
        if self._tick_specs is None:
            self._tick_specs = {s.instrument.key: s for s in self.tick_subscriptions()}
        return self._tick_specs

    def handle_tick(self, tick: Tick) -> None:
        if self._started and not self._stopped:
            self.on_tick(tick)

    def handle_fill(self, fill: Fill) -> None:
        self.on_fill(fill)

    def handle_order_status(self, order: OrderHandle) -> None:
        self.on_order_status(order)

    def advance_clock(self, now: pd.Timestamp) -> None:
        """Run due schedule callbacks without a bar."""
        if self._started and not self._stopped:
            self.schedule.advance(now)

    def update_params(self, changes: Mapping[str, Any]) -> P:
        """Validated runtime change (raises ParamError); calls on_params_changed."""
        old = self.params
        new = old.replace(**dict(changes))
        self.params = new
        self.on_params_changed(old, new)
        return new

    def set_weights(self, weights: Weights) -> None:
        self.weights = weights

    def save_state(self) -> dict[str, Any]:
        state = {
            "version": STATE_VERSION,
            "strategy": self.name,
            "params": self.params.to_mapping(),
            "book": self.ctx.positions(),
            "schedule": self.schedule.fired_through,
            "user": self.on_save(),
        }
        try:
            json.dumps(state)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self.name}.on_save() must return JSON-safe data: {exc}") from exc
        return state

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what on_save returned; call before start(). Params come from the
        configuration, not from here."""
        user = state.get("user", {})
        if not isinstance(user, dict):
            raise TypeError("saved strategy state must hold a dict under 'user'")
        book = state.get("book", {})
        if not isinstance(book, dict):
            raise TypeError("saved strategy state must hold a dict under 'book'")
        self.on_load(user)
        self._saved_book = {str(k): float(v) for k, v in book.items()}
        schedule = state.get("schedule")
        self._saved_schedule = int(schedule) if isinstance(schedule, int) else None

    def reconcile(self, book: Mapping[str, float]) -> dict[str, tuple[float, float]]:
        """Driver: after `start`, with this strategy's positions at the broker. Logs each
        difference from the positions saved with the state, calls `on_reconcile` when there
        is one, and returns them (key -> (saved, book))."""
        saved = self._saved_book or {}
        held = {k: float(v) for k, v in book.items() if v}
        diffs = {k: (saved.get(k, 0.0), held.get(k, 0.0)) for k in sorted(set(saved) | set(held))
                 if abs(saved.get(k, 0.0) - held.get(k, 0.0)) > 1e-9}
        for key, (was, now) in diffs.items():
            self.log.warning("reconcile %s: saved state holds %+g, the broker's book %+g (%s)",
                             key, was, now, "no saved state" if self._saved_book is None
                             else "changed since the last save")
        if diffs:
            self.on_reconcile(saved, held)
        return diffs

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._started:
            self.on_stop()


def _key(inst: InstOrKey) -> str:
    return inst if isinstance(inst, str) else inst.key
