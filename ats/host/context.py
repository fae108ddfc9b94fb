"""LiveContext: the strategy's view of the live world, implementing ats.sdk.Context.

The strategy's book (positions, cash) is its own: seeded from the broker's ledger for this
strategy at start and after each reconnect, then kept current from this connection's own
executions, deduplicated by execId, corrections applied (ats.host.executions). Orders leave
only after the broker's risk approval; if the broker cannot be asked, the order is refused
(fail closed) and never silently resent. Orders go out through an `OrderRouter`
(ats.host.orders.Orders in the host).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pandas as pd

from ats.ib.venueclock import VenueClock
from ats.sdk.instrument import Instrument
from ats.sdk.orders import OrderHandle, OrderRequest, OrderStatus

log = logging.getLogger("ats.host")


class OrderRouter(Protocol):
    """Where the context's orders go."""

    def refusal(self, req: OrderRequest) -> str | None:
        """Why a new order cannot leave now, or None."""

    def place(self, handle: OrderHandle) -> None:
        """Start placing an order (in the background: approval, then the venue)."""

    def cancel(self, handle: OrderHandle) -> None: ...

    def modify(self, handle: OrderHandle, quantity: float | None, limit: float | None,
               stop: float | None) -> None: ...


class LiveContext:
    def __init__(self, name: str, clock: VenueClock, router: OrderRouter,
                 instruments: Mapping[str, Instrument],
                 account_equity: Callable[[], float]) -> None:
        self.name = name
        self.clock = clock
        self.router = router
        self.instruments = instruments  #: key -> instrument, of every contract qualified
        self._account_equity = account_equity
        self.positions_by_key: dict[str, float] = {}
        self.cash_balance = 0.0
        self.last_prices: dict[str, float] = {}
        self.handles: dict[str, OrderHandle] = {}
        self.chains: dict[str, list[Instrument]] = {}
        self._ids = itertools.count(1)
        self.notify: Callable[[OrderHandle], None] = lambda h: None

    # -- Context ----------------------------------------------------------------------------

    def now(self) -> pd.Timestamp:
        return self.clock.now()

    def submit(self, req: OrderRequest) -> OrderHandle:
        handle = OrderHandle(local_id=f"{self.name}-{int(time.time())}-{next(self._ids)}",
                             request=req, created=self.clock.now())
        self.handles[handle.local_id] = handle
        refusal = self.router.refusal(req)
        if refusal is not None:
            self.reject(handle, refusal)
        else:
            self.router.place(handle)
        return handle

    def cancel(self, h: OrderHandle) -> None:
        self.router.cancel(h)

    def modify(self, h: OrderHandle, quantity: float | None = None, limit: float | None = None,
               stop: float | None = None) -> None:
        self.router.modify(h, quantity, limit, stop)

    def open_orders(self) -> list[OrderHandle]:
        return [h for h in self.handles.values() if h.status in OrderStatus.ACTIVE]

    def position(self, inst: Instrument) -> float:
        return self.positions_by_key.get(inst.key, 0.0)

    def positions(self) -> dict[str, float]:
        return {k: v for k, v in self.positions_by_key.items() if v}

    def cash(self) -> float:
        return self.cash_balance

    def equity(self) -> float:
        value = 0.0
        for key, qty in self.positions_by_key.items():
            inst = self.instruments.get(key)
            px = self.last_prices.get(key)
            if inst is not None and px is not None:
                value += qty * px * inst.multiplier
        return self.cash_balance + value

    def account_equity(self) -> float:
        return self._account_equity()

    def last_price(self, inst: Instrument) -> float | None:
        return self.last_prices.get(inst.key)

    def futures_chain(self, symbol: str) -> list[Instrument]:
        """The chain as last loaded, less the contracts that have expired since."""
        today = self.now().tz_convert(None).strftime("%Y%m%d")
        return [i for i in self.chains.get(symbol, []) if not i.expiry or i.expiry >= today]

    # -- host side --------------------------------------------------------------------------

    def reject(self, handle: OrderHandle, reason: str) -> None:
        handle.status, handle.reason = OrderStatus.REJECTED, reason
        log.warning("order %s refused: %s", handle.local_id, reason)
        # Deliver after the strategy's current hook returns: hooks are not re-entered.
        asyncio.get_running_loop().call_soon(self.notify, handle)

    def apply_fill(self, key: str, signed_qty: float, price: float, multiplier: float) -> None:
        self.positions_by_key[key] = self.positions_by_key.get(key, 0.0) + signed_qty
        self.cash_balance -= signed_qty * price * multiplier
        self.last_prices[key] = price

    def charge(self, commission: float) -> None:
        self.cash_balance -= commission

    def reset_book(self, positions: dict[str, float], cash: float) -> None:
        self.positions_by_key = dict(positions)
        self.cash_balance = cash

    def snapshot(self) -> dict[str, Any]:
        return {"positions": self.positions(), "cash": round(self.cash_balance, 2),
                "open_orders": len(self.open_orders())}
