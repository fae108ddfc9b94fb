"""Driving a system whose simulator runs a stepped clock (`[sim] clock = "stepped"`): time
stands still until the test advances it (admin `advance`) to the next decision instant, then
waits until every host has handled that instant (`BusWatch.settled`). What the hosts decide
then no longer depends on how loaded the machine is."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
import zmq
from systemkit import System, wait_for

from ats.orders.events import FILL_TYPE, ORDER_TYPE, FillEvent, OrderUpdate
from ats.sdk.backtest import BacktestContext
from ats.sdk.schedule import sessions
from bus import topics
from bus.subscriber import SyncSubscriber


class BusWatch:
    """Every host's latest heartbeat, and every order and fill message, from the bus (each
    decoded by the order contract: one it cannot read fails the test)."""

    def __init__(self, system: System, names: Sequence[str]) -> None:
        self.names = list(names)
        self.hb: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, list[OrderUpdate]] = defaultdict(list)
        self.fills: dict[str, list[FillEvent]] = defaultdict(list)
        self.error: BaseException | None = None
        self._killed: set[int] = set()
        self._stop = threading.Event()
        self._sub = SyncSubscriber(
            zmq.Context.instance(), system.cfg().endpoints.subscribe,
            [t for n in self.names for t in (topics.hb(n), topics.order(n), topics.fill(n))])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                msg = self._sub.recv(timeout=0.2)
                if msg is None:
                    continue
                topic, env = msg
                name = topic.split(".")[1]
                if env.type == "hb":
                    self.hb[name] = dict(env.body)
                elif env.type == ORDER_TYPE:
                    self.orders[name].append(OrderUpdate.decode(env.body))
                elif env.type == FILL_TYPE:
                    self.fills[name].append(FillEvent.decode(env.body))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def killed(self, pid: int) -> None:
        """Heartbeats of this process, still on their way, no longer count as settled."""
        self._killed.add(pid)

    def settled(self, at: pd.Timestamp) -> bool:
        """Every host has handled every bar and callback due by `at` (its heartbeat's
        `venue_synced`), and has no order awaiting approval or the venue's first status."""
        if self.error is not None:
            raise self.error
        for name in self.names:
            hb = self.hb.get(name)
            if hb is None or "venue_synced" not in hb or pd.Timestamp(hb["venue_synced"]) < at:
                return False
            if int(hb.get("pid", 0)) in self._killed or int(hb.get("in_flight", 0)):
                return False
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sub.close()


def decision_instants(strategies: Iterable[tuple[type[Any], str, Any]], start: pd.Timestamp,
                      end: pd.Timestamp) -> list[pd.Timestamp]:
    """Every instant a strategy's schedule falls due, every session close, and every end of an
    intraday bar of a subscription during regular hours, in (start, end], and `end`.
    `strategies`: (class, name, params) of each."""
    out: set[pd.Timestamp] = set()
    cal = sessions("XNYS")
    opens = pd.DatetimeIndex(cal.opens, tz="UTC")
    closes = pd.DatetimeIndex(cal.closes, tz="UTC")
    for cls, name, params in strategies:
        strategy = cls(name, params, BacktestContext())
        for spec in strategy.subscriptions():
            if spec.bar_size == "1d":
                continue
            step = pd.Timedelta(spec.bar_size)
            for o, c in zip(opens, closes, strict=True):
                if o >= start and c <= end:
                    out.update(pd.date_range(o + step, c, freq=step))
        strategy.on_start()
        t = start
        strategy.schedule.start(t)
        while (t := strategy.schedule.next_due()) is not None and t <= end:
            out.add(t)
            strategy.schedule.start(t)
    out.update(c for c in closes if start < c <= end)
    out.add(end)
    return sorted(out)


def advance_through(admin: Any, watch: BusWatch, instants: Iterable[pd.Timestamp],
                    at_each: Callable[[pd.Timestamp], None] | None = None,
                    timeout: float = 60.0) -> int:
    """Advance the venue's clock to each instant and wait until every host has handled it;
    then call `at_each(instant)`. Returns how many steps were taken."""
    n = 0
    for at in instants:
        admin.call("advance", to=at.isoformat())
        wait_for(lambda at=at: watch.settled(at), timeout, f"every host through {at}",
                 interval=0.02)
        n += 1
        if at_each is not None:
            at_each(at)
    return n
