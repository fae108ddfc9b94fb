"""`ats-ctl data fetch` and DataManager against a real simulator and a real LMDB ArcticDB."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pandas as pd
import pytest
from click.testing import Result
from pinned import SESSION_TS

from ats.config import Config
from ats.data import DataManager
from ats.data.fetch import HistoricalFetcher, Step, plan
from ats.data.pacing import HistoricalPacer
from ats.data.store import BarStore
from ats.ib import adapter
from ats.sdk.instrument import Stock
from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(120)
_client_ids = itertools.count(200)


def store_of(home: Config) -> BarStore:
    return BarStore(home.arctic_uri, "market_data")


def test_fetch_stores_two_years_of_daily_bars(ctl: Callable[..., Result],
                                              home: Config) -> None:
    result = ctl("data", "fetch", "SPY", "--bar", "1d", "--duration", "2y")
    assert result.exit_code == 0, result.output
    df = store_of(home).read("SPY.1d")
    assert 480 <= len(df) <= 510
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert str(pd.DatetimeIndex(df.index).tz) == "UTC"
    assert df.index.is_unique and df.index.is_monotonic_increasing
    assert (df["high"] >= df["low"]).all()
    assert df.index[-1] < SESSION_TS.normalize()  # only completed bars: not today's


def test_a_second_fetch_writes_nothing_new(ctl: Callable[..., Result], home: Config) -> None:
    assert ctl("data", "fetch", "SPY", "--duration", "2y").exit_code == 0
    store = store_of(home)
    version, rows = store.version("SPY.1d"), len(store.read("SPY.1d"))
    again = ctl("data", "fetch", "SPY", "--duration", "2y")
    assert again.exit_code == 0, again.output
    assert store.version("SPY.1d") == version
    assert len(store.read("SPY.1d")) == rows


def test_a_fetch_with_a_fixed_end_is_up_to_date_on_the_second_run(
        ctl: Callable[..., Result], home: Config) -> None:
    end = (SESSION_TS - pd.Timedelta(days=30)).strftime("%Y-%m-%d")
    assert ctl("data", "fetch", "SPY", "--duration", "1y", "--end", end).exit_code == 0
    again = ctl("data", "fetch", "SPY", "--duration", "1y", "--end", end)
    assert "up to date" in again.output
    assert store_of(home).read("SPY.1d").index[-1] <= pd.Timestamp(end, tz="UTC")


def test_a_longer_duration_fetches_only_the_older_bars(ctl: Callable[..., Result],
                                                       home: Config) -> None:
    assert ctl("data", "fetch", "SPY", "--duration", "1y").exit_code == 0
    store = store_of(home)
    first = store.read("SPY.1d").index[0]
    result = ctl("data", "fetch", "SPY", "--duration", "2y", "--json")
    assert result.exit_code == 2  # no --json on fetch: usage error, nothing done
    result = ctl("data", "fetch", "SPY", "--duration", "2y")
    assert result.exit_code == 0, result.output
    df = store.read("SPY.1d")
    assert df.index[0] < first - pd.Timedelta(days=300), result.output
    assert df.index.is_unique


def _fetch(sim: SimProcess, store: BarStore, start: pd.Timestamp,
           stop_after: int | None = None) -> int:
    """Run one fetch of SPY 1d from `start`; raise KeyboardInterrupt after `stop_after` steps."""
    async def go() -> int:
        ib = adapter.IB()
        await ib.connectAsync(sim.host, sim.port, clientId=next(_client_ids), timeout=10)
        try:
            done = 0

            def on_step(step: Step, written: int) -> None:
                nonlocal done
                done += 1
                if stop_after is not None and done >= stop_after:
                    raise KeyboardInterrupt

            now = pd.Timestamp(await ib.reqCurrentTimeAsync())
            p = plan(store, Stock("SPY"), "1d", start, now=now)
            fetcher = HistoricalFetcher(ib, store, HistoricalPacer())
            await fetcher.run(p, on_step)
            return len(p.steps)
        finally:
            ib.disconnect()

    return asyncio.run(go())


def test_an_interrupted_fetch_resumes_without_gaps_or_duplicates(
        sim: SimProcess, home: Config, tmp_path: object) -> None:
    start = SESSION_TS - pd.DateOffset(years=3)
    interrupted = BarStore(home.arctic_uri, "resumed")
    with pytest.raises(KeyboardInterrupt):
        _fetch(sim, interrupted, start, stop_after=1)
    partial = interrupted.read("SPY.1d")
    assert 200 <= len(partial) <= 260  # the newest year only
    remaining = _fetch(sim, interrupted, start)
    assert remaining >= 3  # the older years (and the small tail since the first run)
    reference = BarStore(home.arctic_uri, "reference")
    _fetch(sim, reference, start)
    resumed, full = interrupted.read("SPY.1d"), reference.read("SPY.1d")
    assert resumed.index.is_unique
    pd.testing.assert_frame_equal(resumed, full)


def test_data_manager_serves_from_storage_and_fetches_only_what_is_missing(
        sim: SimProcess, home: Config) -> None:
    ib = adapter.IB()
    ib.connect(sim.host, sim.port, clientId=next(_client_ids), timeout=10)
    try:
        pacer = HistoricalPacer()
        dm = DataManager(home.arctic_uri, ib=ib, pacer=pacer)
        start = SESSION_TS - pd.Timedelta(days=200)
        df = dm.history(Stock("QQQ"), "1d", start)
        assert 120 <= len(df) <= 145
        sent = len(pacer.sent_times())
        again = dm.history(Stock("QQQ"), "1d", start + pd.Timedelta(days=50))
        assert len(pacer.sent_times()) - sent <= 1  # at most the small tail since the last bar
        assert again.index[0] >= start + pd.Timedelta(days=50)
        stored = dm.get_data_from_arctic("market_data", "QQQ.1d", start, None)
        pd.testing.assert_frame_equal(stored, df)
    finally:
        ib.disconnect()


def test_an_unknown_symbol_fails_with_a_clear_error(ctl: Callable[..., Result]) -> None:
    result = ctl("data", "fetch", "NOSUCHTHING", "--duration", "1y")
    assert result.exit_code != 0
    assert "no security definition" in result.output


def test_a_bad_symbol_syntax_fails_before_connecting(ctl: Callable[..., Result]) -> None:
    result = ctl("data", "fetch", "SPY:OPT")
    assert result.exit_code != 0 and "unknown type" in result.output


def test_fetch_asks_for_the_mini_vix_future_under_its_own_symbol(
        ctl: Callable[..., Result], home: Config) -> None:
    result = ctl("data", "fetch", "VXM:FUT:20261216", "--bar", "1d", "--duration", "1m")
    assert result.exit_code == 0, result.output
    df = store_of(home).read("VXM.FUT.20261216.1d")
    assert len(df) >= 15 and (df["close"] > 0).all()
