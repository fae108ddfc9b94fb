"""Command-line symbol syntax and storage names."""

from __future__ import annotations

import pytest

from ats.data.naming import (
    SymbolError,
    format_symbol,
    parse_symbol,
    split_storage_name,
    storage_name,
)
from ats.sdk.instrument import Future, Index, Stock


@pytest.mark.parametrize(("text", "expected"), [
    ("SPY", Stock("SPY")),
    ("spy", Stock("SPY")),
    ("SPY:STK", Stock("SPY")),
    ("SPY:STK:ARCA", Stock("SPY", "ARCA")),
    ("VIX:IND", Index("VIX")),
    ("SPX:IND:CBOE", Index("SPX", "CBOE")),
    ("VXM:FUT:20261216", Future("VXM", "20261216")),
    ("BRK B", Stock("BRK B")),
])
def test_symbol_syntax_builds_the_instrument(text: str, expected: object) -> None:
    assert parse_symbol(text) == expected


@pytest.mark.parametrize("text", ["", ":STK", "SPY:OPT", "VXM:FUT", "VXM:FUT:2026",
                                  "A:B:C:D", "$$$"])
def test_bad_symbols_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(SymbolError) as info:
        parse_symbol(text)
    assert text.upper() in str(info.value) or repr(text) in str(info.value)


def test_future_multiplier_comes_from_the_root() -> None:
    assert parse_symbol("VXM:FUT:20261216").multiplier == 100.0


@pytest.mark.parametrize(("text", "bar", "name"), [
    ("SPY", "1d", "SPY.1d"),
    ("SPY", "1min", "SPY.1min"),
    ("VIX:IND", "1d", "VIX.1d"),
    ("VXM:FUT:20261216", "1d", "VXM.FUT.20261216.1d"),
])
def test_storage_names_match_the_simulator_replay_convention(text: str, bar: str,
                                                             name: str) -> None:
    assert storage_name(parse_symbol(text), bar) == name
    base, size = name.rpartition(".")[0], name.rpartition(".")[2]
    assert split_storage_name(name) == (base, size)


def test_unknown_bar_size_is_refused() -> None:
    with pytest.raises(ValueError, match="bar size"):
        storage_name(Stock("SPY"), "2d")


def test_names_that_are_not_bars_are_not_split() -> None:
    assert split_storage_name("ledger") is None
    assert split_storage_name("SPY.weird") is None


@pytest.mark.parametrize("text", ["SPY", "VIX:IND", "VXM:FUT:20261216"])
def test_format_symbol_round_trips(text: str) -> None:
    assert format_symbol(parse_symbol(text)) == text
