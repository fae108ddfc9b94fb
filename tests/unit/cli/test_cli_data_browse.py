"""`ats-ctl data libraries | list | show | delete` over a real ArcticDB on LMDB in a temp
ATS_HOME."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from ats.broker.ledger_store import LIBRARY as LEDGER
from ats.cli.main import cli
from ats.config import Config, init_home
from ats.data.store import BarStore
from ats.manager.registry import LIBRARY as REGISTRY
from ats.storage.arctic import open_arctic

DAYS = 30
START = pd.Timestamp("2026-01-05", tz="UTC")


def _stored(where: Path) -> Config:
    cfg = init_home(where / "home")
    idx = pd.bdate_range(START, periods=DAYS, tz="UTC")
    close = 100 + np.arange(DAYS, dtype=float)
    BarStore(cfg.arctic_uri).merge("SPY.1d", pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close,
         "volume": np.full(DAYS, 1e6)}, index=idx))
    arctic = open_arctic(cfg.arctic_uri)
    fills = pd.DataFrame({"seq": [1, 2], "exec_id": ["a.01", "b.01"],
                          "time": ["2026-01-05T14:30:00+00:00", "2026-01-07T15:00:00+00:00"]})
    arctic.get_library(LEDGER, create_if_missing=True).write("fills", fills)
    arctic.get_library(REGISTRY, create_if_missing=True).write(
        "strategies", pd.DataFrame({"name": ["ltmt"]}))
    arctic.get_library("research", create_if_missing=True).write(
        "signals", pd.DataFrame({"score": [0.5, 0.25, 0.125]},
                                index=pd.date_range("2026-02-02", periods=3, name="day")))
    return cfg


def _ctl(home: Config) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, ["--home", str(home.home), *args], input=input,
                             catch_exceptions=False)

    return invoke


@pytest.fixture(scope="module")
def ctl(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Result]:
    """Over one store shared by the tests that only read it."""
    return _ctl(_stored(tmp_path_factory.mktemp("browse")))


@pytest.fixture
def home(tmp_path: Path) -> Config:
    """A store of its own, for a test that deletes."""
    return _stored(tmp_path)


@pytest.fixture
def own_ctl(home: Config) -> Callable[..., Result]:
    return _ctl(home)


def test_libraries_lists_each_with_its_symbols_and_which_are_protected(
        ctl: Callable[..., Result]) -> None:
    rows = json.loads(ctl("data", "libraries", "--json").output)
    assert {r["library"]: (r["symbols"], r["protected"]) for r in rows} == {
        LEDGER: (1, True), "market_data": (1, False), REGISTRY: (1, True),
        "research": (1, False)}
    text = ctl("data", "libraries").output
    assert "research" in text and "LIBRARY" in text


def test_list_defaults_to_market_data_with_rows_range_columns_and_last_update(
        ctl: Callable[..., Result]) -> None:
    [row] = json.loads(ctl("data", "list", "--json").output)
    assert (row["symbol"], row["bar"], row["name"], row["rows"]) == ("SPY", "1d", "SPY.1d", DAYS)
    assert pd.Timestamp(row["first"]) == START
    assert pd.Timestamp(row["last"]) == pd.bdate_range(START, periods=DAYS, tz="UTC")[-1]
    assert row["columns"] == ["open", "high", "low", "close", "volume"]
    assert pd.Timestamp(row["last_update"]).tzinfo is not None
    text = ctl("data", "list").output
    assert "SPY" in text and "open, high, low, close, volume" in text


def test_list_of_a_library_without_a_time_index_takes_the_range_from_its_time_column(
        ctl: Callable[..., Result]) -> None:
    [row] = json.loads(ctl("data", "list", LEDGER, "--json").output)
    assert (row["symbol"], row["rows"], row["columns"]) == ("fills", 2,
                                                           ["seq", "exec_id", "time"])
    assert (row["first"], row["last"]) == ("2026-01-05T14:30:00+00:00",
                                           "2026-01-07T15:00:00+00:00")


def test_list_of_an_unknown_library_is_one_line_naming_the_libraries(
        ctl: Callable[..., Result]) -> None:
    result = ctl("data", "list", "nope")
    assert result.exit_code == 18
    assert result.output.count("\n") == 1 and "no library 'nope'" in result.output
    assert "research" in result.output


def test_show_keeps_its_old_form_and_takes_head_and_tail(ctl: Callable[..., Result]) -> None:
    last = json.loads(ctl("data", "show", "SPY", "--tail", "3", "--json").output)
    assert [r["close"] for r in last] == [100.0 + DAYS - 3, 100.0 + DAYS - 2, 100.0 + DAYS - 1]
    assert pd.Timestamp(last[-1]["time"]) == pd.bdate_range(START, periods=DAYS, tz="UTC")[-1]
    first = json.loads(ctl("data", "show", "market_data", "SPY.1d", "--head", "2",
                           "--json").output)
    assert [r["close"] for r in first] == [100.0, 101.0]
    text = ctl("data", "show", "SPY").output
    assert f"market_data/SPY.1d: {DAYS} rows, 2026-01-05 to" in text
    assert len([line for line in text.splitlines() if line.startswith("2026-")]) == 20


def test_show_reads_any_library_and_plots(ctl: Callable[..., Result], tmp_path: Path) -> None:
    rows = json.loads(ctl("data", "show", "research", "signals", "--json").output)
    assert [r["score"] for r in rows] == [0.5, 0.25, 0.125]
    assert rows[0]["day"].startswith("2026-02-02")
    text = ctl("data", "show", "research", "signals").output
    assert "DAY" in text and "2026-02-04" in text and "TIME" not in text
    chart = tmp_path / "signals.png"
    result = ctl("data", "show", "research", "signals", "--plot", str(chart))
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "words"), [
    (("research", "nothing"), "no symbol 'nothing' in library 'research'"),
    (("QQQ",), "ats-ctl data fetch QQQ --bar 1d"),
    (("SPY", "--head", "1", "--tail", "1"), "--head or --tail, not both"),
])
def test_show_refusals_are_one_line(ctl: Callable[..., Result], args: tuple[str, ...],
                                    words: str) -> None:
    result = ctl("data", "show", *args)
    assert result.exit_code != 0
    assert words in result.output and result.output.count("\n") == 1


def test_delete_asks_first_and_deletes_on_yes(own_ctl: Callable[..., Result],
                                              home: Config) -> None:
    kept = own_ctl("data", "delete", "research", "signals", input="n\n")
    assert "not deleted" in kept.output
    assert open_arctic(home.arctic_uri).get_library("research").has_symbol("signals")
    gone = own_ctl("data", "delete", "research", "signals", input="y\n")
    assert "deleted research/signals (3 rows)" in gone.output
    assert not open_arctic(home.arctic_uri).get_library("research").has_symbol("signals")
    done = json.loads(own_ctl("data", "delete", "market_data", "SPY.1d", "--yes", "--json").output)
    assert (done["symbol"], done["rows"], done["deleted"]) == ("SPY.1d", DAYS, True)
    assert json.loads(own_ctl("data", "list", "--json").output) == []


@pytest.mark.parametrize(("library", "symbol"), [(LEDGER, "fills"), (REGISTRY, "strategies")])
def test_delete_refuses_the_ledger_and_the_registry(
        own_ctl: Callable[..., Result], home: Config, library: str, symbol: str) -> None:
    result = own_ctl("data", "delete", library, symbol, "--yes")
    assert result.exit_code == 19
    assert "never deleted by hand" in result.output and result.output.count("\n") == 1
    assert open_arctic(home.arctic_uri).get_library(library).has_symbol(symbol)
