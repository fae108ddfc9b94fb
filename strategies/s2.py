"""S2: statistical arbitrage on a cointegrated pair, hedged by the regression's ratio.

Logic: each day before the close, regress log(A) on log(B) over the last `window` days
(rolling OLS) to get the hedge ratio beta; the spread is log(A) - beta * log(B), and z is the
last spread's z-score over the same window.
- flat and z >= entry_z: short the spread (sell A, buy B);
- flat and z <= -entry_z: long the spread (buy A, sell B);
- in a position and |z| <= exit_z: close both legs (reverted);
- in a position and |z| >= stop_z: close both legs (stop) and stay out until |z| <= exit_z.
The legs hold the spread it measured: B's value is beta x A's, on the opposite side, and the
larger leg is `leg_exposure` x capital in value.

Parameters (defaults): symbol_a KO, symbol_b PEP, window 60, entry_z 2.0, exit_z 0.5,
stop_z 4.0, leg_exposure 0.5.
Universe: one pair of stocks. Data: daily bars, `window` sessions. Schedule: before_close daily.

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused entry leg is no spread: the
other leg is cancelled or closed and the state goes back to flat, so the next decision may
enter again. A partly filled leg is kept as filled (no top-up) and the exit closes both legs
in full. While flat or stopped, legs still held (a refused or partly filled exit) are closed at
the next decision. After a restart the saved state keeps managing the legs it holds. A missing
bar: the regression and the z-score use only the days both legs have a bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ats.sdk import BarSpec, ParamError, Params, Stock, Strategy, param
from ats.sdk.indicators import ols_beta
from ats.sdk.orders import OrderHandle, OrderStatus

FLAT, LONG_SPREAD, SHORT_SPREAD, STOPPED = 0, 1, -1, 2


@dataclass(frozen=True)
class S2Params(Params):
    symbol_a: str = param("KO", "first leg")
    symbol_b: str = param("PEP", "second leg (regressor)")
    window: int = param(60, "regression and z-score window (days)", min=10)
    entry_z: float = param(2.0, "enter when |z| reaches this", min=0.1)
    exit_z: float = param(0.5, "exit when |z| falls to this", min=0.0)
    stop_z: float = param(4.0, "stop out when |z| reaches this", min=0.2)
    leg_exposure: float = param(0.5, "value of each leg as a fraction of capital", min=0.0,
                                max=1.0)
    minutes_before_close: int = param(15, "daily decision time before the close", min=1)

    def validate(self) -> None:
        if not self.exit_z < self.entry_z < self.stop_z:
            raise ParamError("entry_z", "need exit_z < entry_z < stop_z")


def s2_signal(a: np.ndarray, b: np.ndarray, window: int) -> tuple[float, float]:
    """(beta, z): hedge ratio of log(a) on log(b) and the spread's last z-score."""
    if len(a) < window or len(b) < window:
        return float("nan"), float("nan")
    la, lb = np.log(np.asarray(a[-window:], float)), np.log(np.asarray(b[-window:], float))
    _, beta = ols_beta(la, lb)
    spread = la - beta * lb
    sd = spread.std(ddof=1)
    if not sd > 0:
        return beta, float("nan")
    return beta, float((spread[-1] - spread.mean()) / sd)


def s2_next_state(state: int, z: float, p: S2Params) -> int:
    """Next position state (FLAT, LONG_SPREAD, SHORT_SPREAD or STOPPED) given z."""
    if z != z:
        return state
    az = abs(z)
    if state in (LONG_SPREAD, SHORT_SPREAD):
        if az >= p.stop_z:
            return STOPPED
        if az <= p.exit_z:
            return FLAT
        return state
    if state == STOPPED:
        return FLAT if az <= p.exit_z else STOPPED
    if p.entry_z <= az < p.stop_z:
        return SHORT_SPREAD if z > 0 else LONG_SPREAD
    return FLAT


def leg_quantities(direction: int, price_a: float, price_b: float, notional: float,
                   beta: float = 1.0) -> tuple[float, float]:
    """Whole shares holding the spread log(A) - beta * log(B): +1 long A / short B, -1 the
    reverse. B's value is beta times A's (opposite side when beta > 0), so the position moves
    with the spread it measured; the larger leg is worth `notional`."""
    if direction not in (LONG_SPREAD, SHORT_SPREAD) or not np.isfinite(beta):
        return 0.0, 0.0
    value_a = notional / max(abs(beta), 1.0)
    qa = float(int(value_a / price_a)) * direction
    qb = -float(int(abs(beta) * value_a / price_b)) * direction * (1 if beta >= 0 else -1)
    return qa, qb


class S2(Strategy[S2Params]):
    params_type = S2Params
    sizes_by_weight = True
    description = "Pairs trading on the z-score of a rolling-regression spread"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        return [BarSpec(Stock(p.symbol_a), "1d", p.window + 5),
                BarSpec(Stock(p.symbol_b), "1d", p.window + 5)]

    def on_init(self) -> None:
        self.a = Stock(self.params.symbol_a)
        self.b = Stock(self.params.symbol_b)
        self.state = FLAT
        self.last_z = float("nan")
        self.beta = float("nan")
        self._entering: set[str] = set()  #: local ids of entry legs not yet done

    def on_start(self) -> None:
        self.schedule.before_close(self.daily, minutes=self.params.minutes_before_close)

    def daily(self) -> None:
        p = self.params
        ca, cb = self.aligned_closes(self.a, self.b)  # a day one leg misses is left out
        if len(ca) < p.window:
            return
        self.beta, self.last_z = s2_signal(ca, cb, p.window)
        new = s2_next_state(self.state, self.last_z, p)
        if new == self.state:
            if new in (FLAT, STOPPED) and (self.position(self.a) or self.position(self.b)):
                self.log.warning("closing the legs again: an exit was refused or part-filled")
                self.flatten(self.a)
                self.flatten(self.b)
            return
        self.log.info("z=%.2f beta=%.2f: state %d -> %d", self.last_z, self.beta, self.state, new)
        self.state = new
        qa, qb = leg_quantities(new, float(ca[-1]), float(cb[-1]),
                                p.leg_exposure * self.capital(), self.beta)
        legs = [self.order_target_quantity(self.a, qa), self.order_target_quantity(self.b, qb)]
        if new in (LONG_SPREAD, SHORT_SPREAD):
            self._entering |= {h.local_id for h in legs if h is not None}

    def on_order_status(self, order: OrderHandle) -> None:
        if order.local_id not in self._entering or order.status not in OrderStatus.DONE:
            return
        self._entering.discard(order.local_id)
        if order.filled or self.state not in (LONG_SPREAD, SHORT_SPREAD):
            return
        # A refused (or unfilled) leg: one leg alone is not the spread. Close the other and
        # go back to flat, so that the next decision may enter again.
        self.log.warning("%s leg %s: %s; closing the spread", order.request.instrument.key,
                         order.status.lower(), order.reason)
        self.state = FLAT
        for h in self.open_orders():
            if h.local_id in self._entering:
                self.cancel(h)
        self._entering.clear()
        self.flatten(self.a)
        self.flatten(self.b)

    def on_save(self) -> dict[str, object]:
        return {"state": self.state}

    def on_load(self, state: dict[str, object]) -> None:
        value = state.get("state", FLAT)
        self.state = value if isinstance(value, int) else FLAT

    def on_stop(self) -> None:
        self.log.info("s2 stopped in state %d", self.state)
