"""Pre-trade risk: trading states, per-strategy and account limits, order rate, IB pacing.

Every rejection names the limit it broke and the numbers, e.g.
``max_order_qty: 500 > limit 100 (strategy ltmt)``.

Resulting gross exposure is estimated as current gross exposure plus the change in
|position| of the ordered contract valued at the intent's ``ref_price``. Orders that reduce
|position| (without crossing zero) pass the position and exposure limits even when the
book is still above them, so a strategy can always get back inside its limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from ats.broker.tradingstate import TradingState
from ats.orders.contract import Decision
from ats.orders.intent import OrderIntent

RATE_WINDOW = 60.0
PACING_WINDOW = 1.0
DEFAULT_MSGS_PER_SECOND = 45  # IB allows 50 messages/s per client


class BookView(Protocol):
    def position(self, strategy: str, con_id: int) -> float: ...
    def gross_exposure(self, strategy: str | None = None) -> float: ...
    def account_position(self, con_id: int) -> float: ...


class StateView(Protocol):
    def binding(self, strategy: str, con_id: int | None = None) -> tuple[TradingState, str]: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """None means unlimited."""

    max_order_qty: float | None = None
    max_order_notional: float | None = None
    max_position: float | None = None  #: per contract, absolute units
    max_gross_exposure: float | None = None
    max_orders_per_minute: float | None = None

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> Limits:
        names = {f.name for f in fields(cls)}
        unknown = set(m) - names
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        values: dict[str, float | None] = {}
        for k, v in m.items():
            if v is None:
                values[k] = None
                continue
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{k} must be a number or None, got {v!r}")
            if v < 0:
                raise ValueError(f"{k} must be >= 0, got {v}")
            values[k] = float(v)
        return cls(**values)

    def to_mapping(self) -> dict[str, float | None]:
        return asdict(self)


APPROVED = Decision(True, "ok", "approved", None)


def _n(x: float) -> str:
    return f"{x:.10g}"


def _reduces(current: float, new: float) -> bool:
    return abs(new) < abs(current) and current * new >= 0


class RiskEngine:
    def __init__(
        self,
        account_limits: Limits,
        strategy_limits: Mapping[str, Limits] | None = None,
        default_strategy_limits: Limits | None = None,
        msgs_per_second: int = DEFAULT_MSGS_PER_SECOND,
    ) -> None:
        self.account_limits = account_limits
        self.strategy_limits: dict[str, Limits] = dict(strategy_limits or {})
        self.default_strategy_limits = default_strategy_limits or Limits()
        self.msgs_per_second = msgs_per_second
        self._strategy_times: dict[str, deque[float]] = {}  #: strategy -> approval times
        self._account_times: deque[float] = deque()
        self._client_times: dict[int | str, deque[float]] = {}  #: client -> approval times

    def set_limits(self, strategy: str | None, limits: Limits) -> None:
        """Replace the account limits (strategy None) or one strategy's limits."""
        if strategy is None:
            self.account_limits = limits
        else:
            self.strategy_limits[strategy] = limits

    def limits_for(self, strategy: str) -> Limits:
        return self.strategy_limits.get(strategy, self.default_strategy_limits)

    def snapshot(self) -> dict[str, Any]:
        return {
            "account": self.account_limits.to_mapping(),
            "default_strategy": self.default_strategy_limits.to_mapping(),
            "strategies": {k: v.to_mapping() for k, v in self.strategy_limits.items()},
            "msgs_per_second": self.msgs_per_second,
        }

    def check(
        self,
        intent: OrderIntent,
        book: BookView,
        state: StateView,
        now: float,
        client_id: int | None = None,
    ) -> Decision:
        """Approve or refuse ``intent``; an approval counts toward the rate and pacing limits.

        ``client_id`` keys the pacing guard; without it the strategy name does.
        """
        strategy, con_id = intent.strategy, intent.con_id
        delta = intent.signed_quantity
        pos = book.position(strategy, con_id)
        effective, whose = state.binding(strategy, con_id)
        if effective is TradingState.HALTED:
            return Decision(False, "halted", f"trading HALTED for {whose}", "trading_state")
        if effective is TradingState.REDUCING and not _reduces(pos, pos + delta):
            return Decision(
                False, "reducing",
                f"trading REDUCING for {whose}: order {_n(delta)} on position {_n(pos)} "
                f"of {strategy} does not reduce it (con_id {con_id})",
                "trading_state",
            )
        acct_pos = book.account_position(con_id)
        scopes = (
            (self.limits_for(strategy), f"strategy {strategy}", pos,
             book.gross_exposure(strategy), self._strategy_times.setdefault(strategy, deque())),
            (self.account_limits, "account", acct_pos, book.gross_exposure(None),
             self._account_times),
        )
        for limits, scope, current, gross, times in scopes:
            refusal = self._check_limits(intent, limits, scope, current, gross, times, now)
            if refusal is not None:
                return refusal
        client = self._client_times.setdefault(client_id if client_id is not None else strategy,
                                               deque())
        _expire(client, now - PACING_WINDOW)
        if len(client) >= self.msgs_per_second:
            who = f"clientId {client_id}" if client_id is not None else f"strategy {strategy}"
            return Decision(
                False, "pacing",
                f"pacing: {len(client) + 1} orders in 1 s > limit {self.msgs_per_second} ({who})",
                "msgs_per_second",
            )
        client.append(now)
        self._strategy_times[strategy].append(now)
        self._account_times.append(now)
        return APPROVED

    @staticmethod
    def _check_limits(
        intent: OrderIntent,
        limits: Limits,
        scope: str,
        current: float,
        gross: float,
        times: deque[float],
        now: float,
    ) -> Decision | None:
        def refuse(name: str, value: float, limit: float) -> Decision:
            return Decision(False, name, f"{name}: {_n(value)} > limit {_n(limit)} ({scope})",
                            name)

        qty = intent.quantity
        if limits.max_order_qty is not None and qty > limits.max_order_qty:
            return refuse("max_order_qty", qty, limits.max_order_qty)
        notional = qty * intent.ref_price * intent.multiplier
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            return refuse("max_order_notional", notional, limits.max_order_notional)
        new = current + intent.signed_quantity
        reducing = _reduces(current, new)
        if limits.max_position is not None and not reducing and abs(new) > limits.max_position:
            return refuse("max_position", abs(new), limits.max_position)
        if limits.max_gross_exposure is not None and not reducing:
            after = gross + (abs(new) - abs(current)) * intent.ref_price * intent.multiplier
            if after > limits.max_gross_exposure:
                return refuse("max_gross_exposure", after, limits.max_gross_exposure)
        if limits.max_orders_per_minute is not None:
            _expire(times, now - RATE_WINDOW)
            if len(times) + 1 > limits.max_orders_per_minute:
                return refuse("max_orders_per_minute", len(times) + 1,
                              limits.max_orders_per_minute)
        return None


def _expire(times: deque[float], cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()
