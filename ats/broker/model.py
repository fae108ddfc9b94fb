"""Plain data types of the trading core; each converts to and from msgpack/JSON-safe dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ats.broker import orderref

BOT = "BOT"
SLD = "SLD"
BUY = "BUY"
SELL = "SELL"


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


@dataclass(frozen=True, slots=True)
class Execution:
    exec_id: str
    perm_id: int
    order_id: int
    client_id: int
    order_ref: str
    account: str
    con_id: int
    symbol: str
    sec_type: str
    currency: str
    multiplier: float
    side: str  #: "BOT" or "SLD"
    shares: float  #: always positive; side gives the sign
    price: float
    time: datetime  #: UTC

    def __post_init__(self) -> None:
        if self.side not in (BOT, SLD):
            raise ValueError(f"side must be BOT or SLD, got {self.side!r}")
        if self.shares < 0:
            raise ValueError(f"shares must be >= 0, got {self.shares}")

    @property
    def signed_shares(self) -> float:
        return self.shares if self.side == BOT else -self.shares

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in self.__slots__}
        d["time"] = _utc(self.time).isoformat()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Execution:
        t = d["time"]
        time = _utc(t if isinstance(t, datetime) else datetime.fromisoformat(str(t)))
        return cls(
            exec_id=str(d["exec_id"]),
            perm_id=int(d["perm_id"]),
            order_id=int(d["order_id"]),
            client_id=int(d["client_id"]),
            order_ref=str(d["order_ref"] or ""),
            account=str(d["account"]),
            con_id=int(d["con_id"]),
            symbol=str(d["symbol"]),
            sec_type=str(d["sec_type"]),
            currency=str(d["currency"]),
            multiplier=float(d["multiplier"]),
            side=str(d["side"]),
            shares=float(d["shares"]),
            price=float(d["price"]),
            time=time,
        )


@dataclass(frozen=True, slots=True)
class CommissionReport:
    exec_id: str
    commission: float
    currency: str
    realized_pnl: float | None  #: IB's own figure (account-wide); kept for reference

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CommissionReport:
        return cls(
            exec_id=str(d["exec_id"]),
            commission=float(d["commission"]),
            currency=str(d["currency"]),
            realized_pnl=_opt_float(d.get("realized_pnl")),
        )


@dataclass(frozen=True, slots=True)
class OrderIntent:
    intent_id: int
    strategy: str
    con_id: int
    symbol: str
    sec_type: str
    side: str  #: "BUY" or "SELL"
    quantity: float  #: always positive
    order_type: str
    limit_price: float | None
    stop_price: float | None
    tif: str
    multiplier: float
    ref_price: float  #: price used for notional and exposure checks
    created: float  #: unix time

    def __post_init__(self) -> None:
        if self.side not in (BUY, SELL):
            raise ValueError(f"side must be BUY or SELL, got {self.side!r}")
        if self.quantity <= 0:
            raise ValueError(f"quantity must be > 0, got {self.quantity}")

    @property
    def order_ref(self) -> str:
        return orderref.make(self.strategy, self.intent_id)

    @property
    def signed_quantity(self) -> float:
        return self.quantity if self.side == BUY else -self.quantity

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OrderIntent:
        return cls(
            intent_id=int(d["intent_id"]),
            strategy=str(d["strategy"]),
            con_id=int(d["con_id"]),
            symbol=str(d["symbol"]),
            sec_type=str(d["sec_type"]),
            side=str(d["side"]),
            quantity=float(d["quantity"]),
            order_type=str(d["order_type"]),
            limit_price=_opt_float(d.get("limit_price")),
            stop_price=_opt_float(d.get("stop_price")),
            tif=str(d["tif"]),
            multiplier=float(d["multiplier"]),
            ref_price=float(d["ref_price"]),
            created=float(d["created"]),
        )
