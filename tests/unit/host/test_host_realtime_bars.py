"""What a strategy host does with the venue's 5-second real-time bars: it streams days of
them in flat memory (the client library's bar list is trimmed as bars arrive, the strategy's
windows are bounded), and a regular-hours subscription builds its bars from sessions only."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hostkit import temp_host

from ats.host.feed import BarAggregator
from ats.host.main import Host
from ats.ib import adapter
from ats.sdk import Bar, BarSpec, Params, Stock, Strategy

DAY = 24 * 3600 // 5  #: 5-second bars in a day, around the clock as the venue sends them
T0 = 1_795_000_000


class Watcher(Strategy[Params]):
    params_type = Params

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(Stock("SPY"), "1min", lookback=50)]

    def on_start(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        self.closes(bar.instrument)


@pytest.fixture
def host() -> Iterator[Host]:
    with temp_host("watcher") as h:
        h.strategy = Watcher("watcher", Params(), h.ctx)
        h.strategy.start()
        h.feed.aggregators["SPY.STK"] = BarAggregator("SPY.STK", "1min")
        h.contracts.key_of[756733] = "SPY.STK"
        yield h


def stream(host: Host, bars: list[object], start: int, n: int) -> None:
    for i in range(start, start + n):
        t = datetime.fromtimestamp(T0 + 5 * i, UTC)
        bars.append(adapter.ib.RealTimeBar(t, -1, 1.0, 1.0, 1.0, 1.0, 100.0, 1.0, 1))
        host.feed.on_rt_bar(bars, True)


def test_the_client_librarys_bar_list_keeps_only_the_newest_bar(host: Host) -> None:
    bars = adapter.ib.RealTimeBarList()
    bars.contract = SimpleNamespace(conId=756733)
    stream(host, bars, 0, 1000)
    assert len(bars) == 1


@pytest.mark.timeout(120)
def test_a_day_of_five_second_bars_leaves_the_hosts_memory_flat(host: Host) -> None:
    """From Wednesday 18:03 UTC to Thursday's: a session's close, midnight, the next open."""
    bars = adapter.ib.RealTimeBarList()
    bars.contract = SimpleNamespace(conId=756733)
    stream(host, bars, 0, 5_000)  # windows and caches filled
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        stream(host, bars, 5_000, DAY)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Untrimmed, the bar list alone would hold DAY bars (about 6 MB); the bound allows under
    # 2 bytes a bar, so even one pointer kept per bar (8 bytes) fails it.
    assert grown < 32 * 1024, f"{grown / 1e3:.1f} kB more after a day of bars"


def test_a_regular_hours_subscription_ignores_pre_and_post_market_bars(host: Host) -> None:
    assert host.strategy is not None
    host.feed.regular_hours.add("SPY.STK")
    bars = adapter.ib.RealTimeBarList()
    bars.contract = SimpleNamespace(conId=756733)
    seen: list[Bar] = []
    host.strategy.on_bar = seen.append  # type: ignore[method-assign]

    def send(at: str) -> None:
        bars.append(adapter.ib.RealTimeBar(datetime.fromisoformat(at), -1, 1.0, 1.0, 1.0, 1.0,
                                           100.0, 1.0, 1))
        host.feed.on_rt_bar(bars, True)

    # Wednesday 2026-11-18: XNYS open 14:30-21:00 UTC
    for at in ("2026-11-18T13:00:00+00:00", "2026-11-18T13:00:05+00:00",  # pre-market
               "2026-11-18T14:30:00+00:00", "2026-11-18T14:30:55+00:00",  # the first minute
               "2026-11-18T14:31:00+00:00", "2026-11-18T21:05:00+00:00",  # post-market
               "2026-11-18T21:06:00+00:00"):
        send(at)
    assert [str(b.time) for b in seen] == ["2026-11-18 14:30:00+00:00"]
    assert seen[0].volume == 200.0  # the session's two 5-second bars only
