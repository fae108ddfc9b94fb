"""bench_contract's msgspec twin of ats.orders.contract.ApprovalRequest: the same fields and
checks as Struct constraints. Imported only when msgspec is installed."""

from typing import Annotated, Literal

import msgspec

Positive = Annotated[float, msgspec.Meta(gt=0)]


class Approval(msgspec.Struct, frozen=True):
    strategy: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_][a-z0-9_-]*$")]
    con_id: int
    symbol: str
    sec_type: str
    side: Literal["BUY", "SELL"]
    quantity: Positive
    order_type: str
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "DAY"
    multiplier: Positive = 1.0
    ref_price: float = 0.0
    client_id: int | None = None
    v: Literal[1] = 1
