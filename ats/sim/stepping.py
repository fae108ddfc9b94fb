"""The stepped clock's `advance`: move time forward and deliver, in time order, every bar that
completed on the way.

For each instant at which a 5-second real-time bar completes, the clock is set to it, working
orders are matched at it, and the bars ending then go out to their clients. Hours without a
session produce no bars, so a night or a weekend passes at once. keepUpToDate subscriptions
are brought up to date at the end of each chunk (`CHUNK` sim seconds). Between chunks the loop
yields, so clients' requests and orders are served meanwhile, at the clock's current instant.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import TYPE_CHECKING

from ats.sim import messages as M
from ats.sim.clock import SteppedClock
from ats.sim.fastbars import SECONDS, realtime_bars
from ats.sim.history_requests import advance_bars
from ats.sim.market import Bar

if TYPE_CHECKING:
    from ats.sim.server import Server
    from ats.sim.session import Session
    from ats.sim.subscriptions import BarSub

CHUNK = 300.0  #: sim seconds of bars built and sent before the loop yields
MAX_BUFFERED = 4 << 20  #: bytes queued for one client before the advance waits for it


class NotStepped(Exception):
    """The simulator's clock runs on its own: `advance` needs `--clock stepped`."""


async def advance(srv: Server, target: float, bar_seconds: int = SECONDS) -> int:
    """Move the stepped clock to `target` (epoch seconds); returns how many bars were sent.
    Returns once every bar is handed to the clients' sockets. `bar_seconds` > 5: each
    real-time bar covers that many seconds instead (see `coarse_bars`)."""
    check_bar_seconds(bar_seconds)
    chunk = max(CHUNK, float(bar_seconds))
    clock = srv.clock
    if not isinstance(clock, SteppedClock):
        raise NotStepped("the clock is not stepped (start the simulator with --clock stepped)")
    if target < clock.timestamp():
        raise ValueError(f"cannot advance backwards: {target} is before the clock's "
                         f"{clock.timestamp()}")
    sent = 0
    while clock.timestamp() < target:
        t1 = min(target, (math.floor(clock.timestamp() / chunk) + 1) * chunk)
        if not (srv.outage or srv.farm_down):
            sent += _send_until(srv, clock, t1, bar_seconds)
        clock.set(t1)
        srv.venue.step()
        await _drain(srv)
    return sent


def check_bar_seconds(bar_seconds: int) -> None:
    if bar_seconds < SECONDS or bar_seconds % SECONDS or 3600 % bar_seconds:
        raise ValueError(f"bar_seconds must be a multiple of {SECONDS} that divides 3600, "
                         f"got {bar_seconds}")


def coarse_bars(srv: Server, sub: BarSub, t1: float, bar_seconds: int,
                ) -> list[tuple[float, Bar]]:
    """(end, bar) of the complete `bar_seconds` bars of `sub` from its next bar to `t1`:
    each summarises its span (open, high, low, close, volume) and goes out as one real-time
    bar stamped with its start, so that a long stepped run need not send every 5-second bar
    (a host aggregates them as it would 5-second ones)."""
    bars = srv.market.intraday_bars(sub.inst, sub.next_time, t1, bar_seconds, sub.what,
                                    sub.rth, complete_only=True)
    return [(min((b.time // bar_seconds + 1) * bar_seconds, t1), b) for b in bars]


def _send_until(srv: Server, clock: SteppedClock, t1: float, bar_seconds: int = SECONDS
                ) -> int:
    """Send every real-time bar completing by `t1`, in order of completion."""
    events: list[tuple[float, int, Session, int, Bar]] = []
    built: dict[tuple[int, str, bool, float], list[tuple[float, Bar]]] = {}  # shared bars
    keep_up: list[tuple[Session, int, BarSub]] = []
    order = itertools.count()
    for s in list(srv.sessions.values()):
        for req_id, sub in list(s.bars.items()):
            if sub.keep_up:
                keep_up.append((s, req_id, sub))
                continue
            key = (sub.inst.con_id, sub.what, sub.rth, sub.next_time)
            bars = built.get(key)
            if bars is None:
                bars = built[key] = (
                    [(b.time + SECONDS, b) for b in realtime_bars(
                        srv.market, sub.inst, sub.next_time, t1, sub.what, sub.rth)]
                    if bar_seconds == SECONDS else coarse_bars(srv, sub, t1, bar_seconds))
            sub.next_time = max(sub.next_time, math.floor(t1 / bar_seconds) * bar_seconds)
            events.extend((end, next(order), s, req_id, b) for end, b in bars)
    events.sort(key=lambda e: (e[0], e[1]))
    for end, group in itertools.groupby(events, key=lambda e: e[0]):
        clock.set(end)
        srv.venue.step()
        for _, _, s, req_id, bar in group:
            s.send(M.real_time_bar(req_id, bar, s.version))
    for s, req_id, sub in keep_up:
        advance_bars(srv, s, req_id, sub, t1)
    return len(events)


async def _drain(srv: Server) -> None:
    """Let the sessions flush, and wait while a client is far behind reading."""
    await asyncio.sleep(0)
    while any(s.transport is not None and not s.transport.is_closing()
              and s.transport.get_write_buffer_size() > MAX_BUFFERED
              for s in srv.sessions.values()):
        await asyncio.sleep(0.01)
