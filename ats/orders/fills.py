"""The fill as the venue reports it: an execution and its commission report, each converting to
and from msgpack/JSON-safe dicts, and the identity of an execution's corrections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

BOT = "BOT"
SLD = "SLD"


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def split_exec_id(exec_id: str) -> tuple[str, int]:
    """(prefix, correction number). IB ids look like ``0000e0d5.6574b2c3.01.01``.

    Ids without at least three dot-separated fields and a 1-2 hex-digit last field are
    treated as uncorrectable: the whole id is the prefix.
    """
    parts = exec_id.split(".")
    last = parts[-1]
    if len(parts) >= 3 and 1 <= len(last) <= 2 and all(c in "0123456789abcdefABCDEF" for c in last):
        return ".".join(parts[:-1]), int(last, 16)
    return exec_id, 0


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
