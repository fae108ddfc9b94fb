"""The interface a strategy sees to the outside world, implemented live and in replay."""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from ats.sdk.instrument import Instrument
from ats.sdk.orders import OrderHandle, OrderRequest


class Context(Protocol):
    def now(self) -> pd.Timestamp:
        """Current time, UTC."""
        ...

    def submit(self, req: OrderRequest) -> OrderHandle: ...

    def cancel(self, h: OrderHandle) -> None: ...

    def modify(
        self,
        h: OrderHandle,
        quantity: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
    ) -> None: ...

    def open_orders(self) -> list[OrderHandle]:
        """This strategy's orders that are not done."""
        ...

    def position(self, inst: Instrument) -> float:
        """This strategy's signed position (attributed, not the account's)."""
        ...

    def positions(self) -> dict[str, float]:
        """Instrument key -> this strategy's signed position, non-zero only."""
        ...

    def cash(self) -> float: ...

    def equity(self) -> float:
        """This strategy's own equity: its cash plus the value of its positions."""
        ...

    def account_equity(self) -> float: ...

    def last_price(self, inst: Instrument) -> float | None: ...

    def futures_chain(self, symbol: str) -> list[Instrument]:
        """Listed, unexpired futures of `symbol`, sorted by expiry."""
        ...
