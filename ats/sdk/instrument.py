"""What a strategy trades or watches: stocks/ETFs, indices and futures."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import pandas as pd

SecType = Literal["STK", "IND", "FUT"]

#: Contract multipliers of the futures the simulator lists.
FUTURE_MULTIPLIERS = {"VX": 1000.0, "VXM": 100.0, "ES": 50.0, "MES": 5.0}


@dataclass(frozen=True)
class Instrument:
    """A tradable or watchable instrument; `key` identifies it in bars, fills and positions."""

    symbol: str
    sec_type: SecType = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    multiplier: float = 1.0
    expiry: str | None = None  #: YYYYMMDD, futures only
    primary_exchange: str | None = None

    @functools.cached_property
    def key(self) -> str:
        """Stable string: `SPY.STK`, `VIX.IND`, `VXM.FUT.20240117`."""
        if self.sec_type == "FUT":
            return f"{self.symbol}.FUT.{self.expiry}"
        return f"{self.symbol}.{self.sec_type}"

    @property
    def tradable(self) -> bool:
        return self.sec_type != "IND"

    @property
    def expiry_date(self) -> pd.Timestamp | None:
        return None if self.expiry is None else pd.Timestamp(self.expiry)

    def __str__(self) -> str:
        return self.key


def Stock(symbol: str, exchange: str = "SMART", currency: str = "USD") -> Instrument:
    return Instrument(symbol, "STK", exchange, currency)


def Index(symbol: str, exchange: str = "CBOE") -> Instrument:
    return Instrument(symbol, "IND", exchange)


def Future(
    symbol: str, expiry: str, exchange: str = "CFE", multiplier: float | None = None
) -> Instrument:
    mult = FUTURE_MULTIPLIERS.get(symbol, 1.0) if multiplier is None else multiplier
    return Instrument(symbol, "FUT", exchange, "USD", mult, expiry)


def from_key(key: str) -> Instrument:
    """Inverse of `Instrument.key` (exchange defaults per type)."""
    parts = key.split(".")
    if len(parts) == 3 and parts[1] == "FUT":
        return Future(parts[0], parts[2])
    if len(parts) == 2 and parts[1] == "IND":
        return Index(parts[0])
    if len(parts) == 2 and parts[1] == "STK":
        return Stock(parts[0])
    raise ValueError(f"not an instrument key: {key!r}")


def days_to_expiry(inst: Instrument, now: pd.Timestamp) -> int:
    """Calendar days from `now`'s date to the future's expiry date (0 on expiry day)."""
    if inst.expiry is None:
        raise ValueError(f"{inst.key} has no expiry")
    today = now.tz_convert(None).normalize() if now.tzinfo is not None else now.normalize()
    return int((pd.Timestamp(inst.expiry) - today).days)
