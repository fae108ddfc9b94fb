"""Live, a scheduled callback sees the same bars as in a replay at the same time: a host fed the
venue's 5-second bars on a pinned clock, its schedule driven as its clock loop drives it, and
`ats.sdk.backtest` over the same bars record the same thing in every callback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from callbackkit import QQQ, SPY, Seer, SeerParams
from hostkit import temp_host

from ats.host.feed import BarAggregator
from ats.host.main import Host
from ats.ib import adapter
from ats.ib.venueclock import VenueClock
from ats.sdk import backtest
from ats.sdk.schedule import sessions
from ats.sdk.testkit import random_walk, trading_days

DAYS = trading_days("2026-11-12", 4)  #: Thursday to Tuesday: a weekend and a Monday
STEP = pd.Timedelta(seconds=5)
CON_IDS = {SPY.key: 756733, QQQ.key: 320227571}


def five_second_bars(seed: int) -> pd.DataFrame:
    """The venue's 5-second bars of every session in DAYS."""
    cal = sessions("XNYS")
    stamps = np.concatenate([
        np.arange(cal.opens[i], cal.closes[i], STEP.value)
        for i in cal.dates.get_indexer(DAYS.tz_localize(None))])
    c = random_walk(len(stamps), 100.0, 0.0005, seed=seed)
    o = np.r_[c[0], c[:-1]]
    return pd.DataFrame({"open": o, "high": np.maximum(o, c) + 0.01,
                         "low": np.minimum(o, c) - 0.01, "close": c,
                         "volume": np.full(len(c), 100.0)},
                        index=pd.DatetimeIndex(stamps, tz="UTC"))


def aggregate(df: pd.DataFrame, rule: pd.Series | str) -> pd.DataFrame:
    return df.groupby(rule).agg({"open": "first", "high": "max", "low": "min",
                                 "close": "last", "volume": "sum"})


@pytest.fixture
def host() -> Iterator[Host]:
    with temp_host("seer") as h:
        h.clock = h.ctx.clock = VenueClock(1.0, stepped=True)  # pinned: moves when told
        yield h


def test_the_host_gives_each_callback_the_bars_a_replay_gives_it_at_the_same_time(
        host: Host) -> None:
    spy5s, qqq5s = five_second_bars(1), five_second_bars(2)
    spy_daily = aggregate(spy5s, spy5s.index.tz_convert("America/New_York").date)
    spy_daily.index = pd.DatetimeIndex(pd.to_datetime(spy_daily.index)).tz_localize("UTC")
    qqq_5min = aggregate(qqq5s, qqq5s.index.floor("5min"))

    replay = backtest.run(Seer, {"intraday": True}, {SPY: spy_daily, QQQ: qqq_5min})

    # Live: the same strategy in a host, started before the first session opens.
    host.clock.sync(spy5s.index[0].timestamp() - 3600)
    strategy = Seer("seer", SeerParams(intraday=True), host.ctx)
    host.strategy = strategy
    strategy.start()
    feeds = {}
    for key, size in ((SPY.key, "1d"), (QQQ.key, "5min")):
        host.feed.aggregators[key] = BarAggregator(key, size)
        host.contracts.key_of[CON_IDS[key]] = key
        feeds[key] = adapter.ib.RealTimeBarList()
        feeds[key].contract = SimpleNamespace(conId=CON_IDS[key])
    spy_rows = spy5s.itertuples(index=False)
    qqq_rows = qqq5s.itertuples(index=False)
    for t in spy5s.index:
        done = t + STEP
        host.clock.follow(done.timestamp())  # the venue's time: this bar just ended
        for key, rows in ((SPY.key, spy_rows), (QQQ.key, qqq_rows)):
            o, hi, lo, c, v = next(rows)
            feeds[key].append(adapter.ib.RealTimeBar(datetime.fromtimestamp(t.timestamp(),
                                                                            tz=done.tzinfo),
                                                     -1, o, hi, lo, c, v, c, 1))
            host.feed.on_rt_bar(feeds[key], True)
        # what the host's clock loop does each second
        host.guard(strategy.advance_clock, host.clock.now() - host.schedule_lag)

    names = [s[0] for s in strategy.seen]
    assert names == ["before_close", "before_close", "weekly", "before_close", "before_close"]
    assert strategy.seen == replay.strategy.seen
    assert host.errors.total == 0


def test_at_a_simulators_speed_the_clock_loop_wakes_for_a_callback_not_a_wall_second_later(
) -> None:
    with temp_host("seer", {"sim": {"speed": 1000.0}}) as h:
        h.clock = h.ctx.clock = VenueClock(1000.0, stepped=True)  # held still at 19:00
        h.clock.sync(pd.Timestamp("2026-11-18 19:00", tz="UTC").timestamp())
        strategy = Seer("seer", SeerParams(intraday=False), h.ctx)
        h.strategy = strategy
        strategy.start()
        strategy.advance_clock(h.clock.now())
        # before_close is due at 20:45, 6,300 venue seconds away: 6.3 wall seconds at speed
        # 1000, so the loop looks again after its usual second ...
        assert h.clock_wait() == 1.0
        h.clock.sync(pd.Timestamp("2026-11-18 20:44:50", tz="UTC").timestamp())
        # ... and 10 venue seconds before it (plus the bars' arrival, 50 venue seconds at this
        # speed) it wakes after 60 ms, not a wall second (1,000 venue seconds) later.
        assert h.clock_wait() == pytest.approx(0.060)
