"""`history` on the broker's ROUTER: the strategy hosts' warm-up bars, from the market_data
cache in ArcticDB first, and through the broker's venue connection only for what is missing.

Why the broker. IB paces historical requests per account, whichever connection sends them
(`ats.data.pacing`), and the hosts are separate OS processes: ten of them starting at once
would each see an empty per-process pacer. Here every host's requests go out of one process
through one HistoricalPacer, so they stay inside the rules however many hosts start together,
with no shared file to lock. The cache is completed for one request at a time, so a second host
asking for the same bars finds the first one's stored and sends nothing to the venue. The
broker already holds the venue connection and ArcticDB, and the hosts stay free of ArcticDB
(opening it costs each host ~27 MB of resident memory). The venue's time comes from the
broker's clock: ib_async's reqCurrentTime must not run twice at once (the first caller's
answer never comes), and the broker asks it at every connect.

Wire: `{"instrument": {...}, "bar_size": "1d", "start": ns, "after": ns | None}` ->
`{"time": [ns...], "open": [...], "high", "low", "close", "volume", "more": bool,
"requests": n, "error": str}`. A reply holds at most MAX_ROWS bars; with `more` the host asks
again with `after` = the last time it got (that page is read from the cache, never fetched).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from ats.barsizes import SIZES
from ats.data.barwire import MAX_ROWS, frame_to_wire, instrument_from_wire
from ats.data.fetch import FetchError, HistoricalFetcher
from ats.data.manager import DataManager
from ats.data.naming import storage_name
from ats.data.pacing import HistoricalPacer
from ats.data.ranges import utc
from ats.ib import adapter
from ats.sdk.instrument import Instrument
from ats.sdk.schedule import Sessions, sessions
from bus.errors import Code, RequestError

log = logging.getLogger("ats.broker.history")

CONNECT_WAIT = 30.0  #: seconds a request waits for the venue connection before cached bars
ANSWER_WAIT = 10.0  #: seconds to wait for the venue's time


def venue_pacer(speed: float) -> HistoricalPacer:
    """A pacer on the venue's time: the simulator at `speed` counts its windows in sim seconds,
    so waits are scaled back to wall seconds."""
    def sleep(seconds: float) -> None:
        time.sleep(seconds / speed)

    async def async_sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / speed)

    return HistoricalPacer(clock=lambda: time.monotonic() * speed, sleep=sleep,
                           async_sleep=async_sleep)


class HistoryService:
    def __init__(self, ib: adapter.IB, arctic_uri: str, library: str, speed: float = 1.0,
                 clock: Callable[[], pd.Timestamp] | None = None) -> None:
        self.ib = ib
        #: the venue's time (the broker's VenueClock); None: asked of the venue each time
        self.clock = clock
        self.manager = DataManager(arctic_uri, library, ib=ib, pacer=venue_pacer(speed))
        self._lock = asyncio.Lock()  #: one cache completion at a time
        #: (storage name, session date) -> the daily bar of a closed session, not yet stored
        self._closed: dict[tuple[str, pd.Timestamp], pd.DataFrame] = {}
        self.requests = 0  #: historical requests sent to the venue for the hosts

    async def m_history(self, p: dict[str, Any]) -> dict[str, Any]:
        inst = instrument_from_wire(p.get("instrument"))
        bar_size = str(p.get("bar_size", ""))
        if bar_size not in SIZES:
            raise RequestError(Code.BAD_PARAMS, f"history: bar size {bar_size!r} is not one "
                               f"of {', '.join(SIZES)}")
        try:
            start = utc(pd.Timestamp(int(p["start"]), unit="ns"))
            after = None if p.get("after") is None else utc(pd.Timestamp(int(p["after"]),
                                                                          unit="ns"))
        except (KeyError, TypeError, ValueError):
            raise RequestError(Code.BAD_PARAMS, "history: start (and after) must be "
                               "nanoseconds since the epoch") from None
        calendar = str(p.get("calendar", "XNYS"))
        try:
            cal = sessions(calendar)
        except Exception:  # exchange_calendars' InvalidCalendarName and the like
            raise RequestError(Code.BAD_PARAMS, f"history: unknown calendar {calendar!r}"
                               ) from None
        name = storage_name(inst, bar_size)
        error, sent = "", 0
        closed: pd.DataFrame | None = None
        if after is None:  # the first page: complete the cache first
            async with self._lock:
                now, error = await self._venue_now()
                if now is not None:
                    error, sent = await self._complete(inst, bar_size, start, now)
                if bar_size == "1d" and now is not None and not error:
                    closed = await self._closed_session(inst, name, cal, now)
        begin = start if after is None else after + pd.Timedelta(1, "ns")
        df = self.manager.store().read(name, begin, None)
        if closed is not None and len(closed) and (df.empty or closed.index[0] > df.index[-1]):
            df = pd.concat([df, closed[list(df.columns)]])
        more = len(df) > MAX_ROWS
        reply = frame_to_wire(df.iloc[:MAX_ROWS])
        reply.update({"more": more, "requests": sent, "error": error})
        return reply

    async def _venue_now(self) -> tuple[pd.Timestamp | None, str]:
        """The venue's time, or None and why (cached bars only then)."""
        waited = 0.0
        while not self.ib.isConnected():  # hosts may start while the broker connects
            if waited >= CONNECT_WAIT:
                return None, "the broker is not connected to the venue: cached bars only"
            await asyncio.sleep(0.5)
            waited += 0.5
        if self.clock is not None:
            return utc(self.clock()), ""
        try:
            answer = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), ANSWER_WAIT)
        except (TimeoutError, ConnectionError) as exc:
            return None, f"the venue did not tell its time ({exc!r}): cached bars only"
        return utc(pd.Timestamp(answer)), ""

    async def _complete(self, inst: Instrument, bar_size: str, start: pd.Timestamp,
                        now: pd.Timestamp) -> tuple[str, int]:
        """Fetch what the cache lacks from `start` to now; the error text when it failed."""
        # Bars are aligned to their size, so those complete by `now` are those complete by
        # its bar boundary; planning to the boundary asks nothing more until a bar completes.
        size = SIZES[bar_size].length
        for attempt in (1, 2):
            try:
                result = await self.manager.fetch(inst, bar_size, start, now=now.floor(size))
                break
            except FetchError as exc:
                # The fetcher takes any error on this connection for its own, and the broker's
                # (the master client) also carries every client's order errors: once more.
                log.warning("history %s %s (attempt %d): %s", inst.key, bar_size, attempt, exc)
                if attempt == 2:
                    return str(exc), 0
            except (ConnectionError, TimeoutError, OSError) as exc:
                log.warning("history %s %s: %s", inst.key, bar_size, exc)
                return str(exc), 0
        self.requests += result.requests
        if result.requests:
            log.info("history %s %s from %s: %d requests, %d new bars, paced %.1fs",
                     inst.key, bar_size, start, result.requests, result.rows, result.waited)
        return "", result.requests

    async def _closed_session(self, inst: Instrument, name: str, cal: Sessions,
                              now: pd.Timestamp) -> pd.DataFrame | None:
        """The daily bar of a session that has closed while its UTC day goes on: final, yet
        stored only once the day is over (a daily bar is complete at its start + 1 day,
        ats.data.ranges), and never built live since its session is over. Asked of the venue
        once per session and kept in memory for the next hosts."""
        i = cal.session_index(int(now.value))
        if i < 0 or now.value < cal.closes[i]:
            return None  # no session yet, or one under way: its bar is built live
        day = pd.Timestamp(cal.dates[i]).tz_localize("UTC")
        if now >= day + pd.Timedelta(days=1):
            return None  # its UTC day is over: the cache has it
        key = (name, day)
        if key not in self._closed:
            fetcher = HistoricalFetcher(self.ib, self.manager.store(), self.manager.pacer)
            try:
                df = await fetcher.request(await fetcher.contract(inst), inst, "1d", now,
                                           "1 D")
            except (FetchError, ConnectionError, TimeoutError, OSError) as exc:
                log.warning("history %s 1d of the closed session %s: %s", inst.key,
                            day.date(), exc)
                return None
            self.requests += 1
            self._closed = {k: v for k, v in self._closed.items() if k[1] == day}
            self._closed[key] = df[df.index == day]
        return self._closed[key]
