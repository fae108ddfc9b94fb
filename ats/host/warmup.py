"""A strategy host's warm-up history: asked of the broker's `history` service, which answers
from the market_data cache in ArcticDB and fetches, paced for the whole account, only what the
cache lacks (`ats.broker.history` says why the broker). When the broker does not answer, the
host asks the venue itself, once per subscription, through its own pacer.

The host never opens ArcticDB: the bars come over the bus.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ats.barsizes import SIZES
from ats.data.barwire import frame_from_wire, instrument_to_wire
from ats.data.pacing import HistoricalPacer, HistRequest
from ats.ib import adapter, parsing
from ats.sdk.bars import BarSpec
from ats.sdk.schedule import Sessions
from bus.client import AsyncRequester
from bus.errors import RequestError

log = logging.getLogger("ats.host.warmup")

#: seconds a host waits for the broker's answer: pacing may hold its requests for minutes
#: when many hosts start with an empty cache (60 requests in 10 minutes at most)
ANSWER_TIMEOUT = 900.0
_MAX_PAGES = 1000
_DAY = pd.Timedelta(days=1)


def warmup_start(now: pd.Timestamp, bar_size: str, lookback: int, cal: Sessions) -> pd.Timestamp:
    """Where the history of `lookback` bars begins: the sessions back from `now` that hold
    them (regular hours counted, so extended hours only add bars), with two bars to spare
    (the venue's clock is known to the second)."""
    t = int(now.value)
    i = cal.session_index(t)
    if bar_size == "1d":
        first = max(0, i - lookback - 2)
        return pd.Timestamp(cal.dates[first]).tz_localize("UTC")
    size = int(SIZES[bar_size].length.value)
    need = (lookback + 2) * size
    while i >= 0:
        open_, close = int(cal.opens[i]), int(cal.closes[i])
        end = min(t, close)
        if end > open_:
            if end - open_ >= need:
                return pd.Timestamp(np.int64(end - need), tz="UTC")
            need -= end - open_
        i -= 1
    return pd.Timestamp(np.int64(int(cal.opens[0])), tz="UTC")


class WarmUp:
    """History for the host's subscriptions (`bars`), through the broker or, failing it, the
    venue directly."""

    def __init__(self, broker: AsyncRequester, ib: adapter.IB,
                 pacer: HistoricalPacer | None = None) -> None:
        self.broker = broker
        self.ib = ib
        self.pacer = pacer or HistoricalPacer()  #: the fallback's own requests
        self.venue_requests = 0  #: requests this host sent to the venue itself

    async def bars(self, spec: BarSpec, contract: adapter.Contract, now: pd.Timestamp,
                   cal: Sessions) -> pd.DataFrame:
        start = warmup_start(now, spec.bar_size, spec.lookback, cal)
        try:
            await self.broker.request("ping", {}, timeout=3.0, retries=1)
            return await self.from_broker(spec, start, cal.name)
        except RequestError as exc:
            log.warning("the broker's history service failed (%s): warm-up history of %s "
                        "asked of the venue directly", exc.message, spec.instrument.key)
            return await self.direct(spec, contract)

    async def from_broker(self, spec: BarSpec, start: pd.Timestamp,
                          calendar: str = "XNYS") -> pd.DataFrame:
        frames: list[pd.DataFrame] = []
        after: int | None = None
        sent = 0
        body = {"instrument": instrument_to_wire(spec.instrument), "bar_size": spec.bar_size,
                "start": int(start.value), "calendar": calendar}
        for _ in range(_MAX_PAGES):
            reply = await self.broker.request("history", {**body, "after": after},
                                              timeout=ANSWER_TIMEOUT, retries=1)
            if reply.get("error"):
                log.warning("warm-up history of %s %s: %s", spec.instrument.key,
                            spec.bar_size, reply["error"])
            sent += int(reply.get("requests", 0))
            frame = frame_from_wire(reply)
            frames.append(frame)
            if not reply.get("more") or frame.empty:
                break
            after = int(frame.index[-1].value)
        df = pd.concat(frames) if len(frames) > 1 else frames[0]
        log.info("warm-up history of %s %s: %d bars from %s (%d venue requests by the broker)",
                 spec.instrument.key, spec.bar_size, len(df), start, sent)
        return df

    async def direct(self, spec: BarSpec, contract: adapter.Contract) -> pd.DataFrame:
        duration = parsing.duration_for(spec.bar_size, spec.lookback)
        setting = SIZES[spec.bar_size].ib_setting
        await self.pacer.acquire_async(HistRequest(spec.instrument.key, spec.instrument.exchange,
                                                   "TRADES", setting, duration, ""))
        self.venue_requests += 1
        bars = await self.ib.reqHistoricalDataAsync(
            contract, endDateTime="", durationStr=duration, barSizeSetting=setting,
            whatToShow="TRADES", useRTH=spec.regular_hours, formatDate=2)
        return parsing.bars_to_df(bars)


def in_regular_hours(df: pd.DataFrame, bar_size: str, cal: Sessions) -> pd.DataFrame:
    """Bars that overlap the regular hours: an hourly bar that begins before the open (09:00
    New York) holds the first half hour of the session, as the live bar stamped 09:00 does."""
    starts = pd.DatetimeIndex(df.index).asi8
    last = starts + int(SIZES[bar_size].length.value) - 1
    return df[cal.in_hours(starts) | cal.in_hours(last)]
