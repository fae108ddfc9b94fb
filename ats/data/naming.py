"""Command-line symbol syntax and the ArcticDB symbol names of stored bars.

Command-line syntax, ``SYMBOL[:TYPE[:EXTRA]]``, case-insensitive:

- ``SPY`` or ``SPY:STK``: a stock or ETF routed SMART in USD;
- ``SPY:STK:ARCA``: the same with an explicit exchange;
- ``VIX:IND``: an index (exchange CBOE unless given: ``SPX:IND:CBOE``);
- ``VXM:FUT:20261216``: a future by root and expiry (YYYYMMDD or YYYYMM), exchange CFE.

Storage names (the simulator's replay reads the same, see ats/sim/replay.py):
``<BASE>.<barsize>`` where BASE is the symbol for stocks and indices (``SPY.1d``,
``VIX.1min``) and the instrument key for futures (``VXM.FUT.20261216.1d``).
"""

from __future__ import annotations

import re

from ats.barsizes import SIZES
from ats.sdk.instrument import Future, Index, Instrument, Stock

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9 ._/-]*")
_EXPIRY = re.compile(r"\d{6}(\d{2})?")


class SymbolError(ValueError):
    """A symbol argument does not follow ``SYMBOL[:TYPE[:EXTRA]]``."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"bad symbol {text!r}: {reason}")
        self.text = text
        self.reason = reason


def parse_symbol(text: str) -> Instrument:
    """``SPY`` -> Stock, ``VIX:IND`` -> Index, ``VXM:FUT:20261216`` -> Future."""
    parts = [p.strip() for p in text.strip().upper().split(":")]
    if len(parts) > 3:
        raise SymbolError(text, "expected at most SYMBOL:TYPE:EXTRA")
    symbol = parts[0]
    if not _SYMBOL.fullmatch(symbol):
        raise SymbolError(text, "the symbol must be letters and digits")
    kind = parts[1] if len(parts) > 1 else "STK"
    extra = parts[2] if len(parts) > 2 else ""
    if kind == "STK":
        return Stock(symbol, extra or "SMART")
    if kind == "IND":
        return Index(symbol, extra or "CBOE")
    if kind == "FUT":
        if not _EXPIRY.fullmatch(extra):
            raise SymbolError(text, "a future needs an expiry: ROOT:FUT:YYYYMMDD")
        return Future(symbol, extra)
    raise SymbolError(text, f"unknown type {kind!r} (use STK, IND or FUT)")


def format_symbol(inst: Instrument) -> str:
    """The command-line spelling of `inst` (inverse of parse_symbol for the defaults)."""
    if inst.sec_type == "FUT":
        return f"{inst.symbol}:FUT:{inst.expiry}"
    if inst.sec_type == "IND":
        return f"{inst.symbol}:IND"
    return inst.symbol


def check_bar_size(bar_size: str) -> str:
    if bar_size not in SIZES:
        raise ValueError(f"unknown bar size {bar_size!r} (use {', '.join(SIZES)})")
    return bar_size


def storage_base(inst: Instrument) -> str:
    return inst.key if inst.sec_type == "FUT" else inst.symbol


def storage_name(inst: Instrument, bar_size: str) -> str:
    """``SPY.1d``, ``VIX.1min``, ``VXM.FUT.20261216.1d``."""
    return f"{storage_base(inst)}.{check_bar_size(bar_size)}"


def split_storage_name(name: str) -> tuple[str, str] | None:
    """``SPY.1d`` -> (``SPY``, ``1d``); None for names that are not stored bars."""
    base, dot, size = name.rpartition(".")
    if not dot or not base or size not in SIZES:
        return None
    return base, size


def instrument_of(base: str) -> Instrument:
    """The instrument a storage base names (a stock unless it is a future key)."""
    parts = base.split(".")
    if len(parts) == 3 and parts[1] == "FUT":
        return Future(parts[0], parts[2])
    return Stock(base)
