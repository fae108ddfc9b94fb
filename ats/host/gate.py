"""Gate: whether a strategy's new order may leave now, and if not, why.

The host's parts keep its four conditions current: the venue connection (ats.host.main), the
book loaded from the broker and the broker's trading state (ats.host.book), the market data
farms (ats.host.main) and a halt (the broker's message, or the host's own after errors).
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sdk.orders import OrderRequest


@dataclass(slots=True)
class Gate:
    venue_state: str = "connecting"  #: connecting, connected, lost or disconnected
    data_ok: bool = True  #: no market data farm reported down
    trading_state: str = "ACTIVE"  #: the broker's for this strategy: ACTIVE, REDUCING, HALTED
    book_synced: bool = False  #: positions seeded from the broker's ledger

    def refusal(self, req: OrderRequest) -> str | None:
        if self.venue_state != "connected":
            return f"venue {self.venue_state}: new orders are refused until reconnected"
        if not self.book_synced:
            return "book not yet loaded from the broker: orders refused until it answers"
        if not self.data_ok:
            return "market data farm down: not trading on stale prices"
        if self.trading_state == "HALTED":
            return "trading is HALTED for this strategy"
        if not req.instrument.tradable:
            return f"{req.instrument.key} is not tradable"
        return None
