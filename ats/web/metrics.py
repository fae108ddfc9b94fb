"""GET /metrics: the system's figures in Prometheus text format (prometheus-client).

Nothing here is a secret, so, like every GET, it is open without a login. Its sources are the
bus: the manager's ``stats.<process>`` messages (CPU, memory, descriptors, threads, loop lag,
the hub's traffic, each host's order round trips), the fills and the broker's risk refusals
(counted from this process's start, as Prometheus counters are), and the ``status`` rows the
web console polls (strategy and trading states, venue connections). A scrape builds every
metric from the latest of each at that moment (a custom collector); a process whose stats
stopped coming for ``STALE_SECONDS`` is left out.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import zmq.asyncio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ats.orders.events import FILL_TYPE, FillEvent
from ats.stats.histogram import Histogram
from bus import topics
from bus.subscriber import Subscriber

log = logging.getLogger("ats.web.metrics")

#: the content type of a scrape's answer
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: a process's stats older than this are not exported (it is gone, or the manager is)
STALE_SECONDS = 30.0
#: every state a strategy may be in (ats.manager), each exported 0 or 1
STRATEGY_STATES = ("RUNNING", "ERRORING", "UNRESPONSIVE", "STARTING", "BACKOFF", "STOPPING",
                   "STOPPED", "EXITED", "FATAL", "CRASH_LOOP", "UNKNOWN")
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")
#: families this collector listens to
FAMILIES = (topics.STATS, topics.FILL, topics.RISK)

Rows = Callable[[], Sequence[Mapping[str, Any]]]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


class Metrics:
    """The latest figures from the bus, exported at each scrape."""

    def __init__(self, rows: Rows = lambda: (), *,
                 clock: Callable[[], float] = time.time) -> None:
        self.rows, self.clock = rows, clock
        self.stats: dict[str, dict[str, Any]] = {}  #: process -> its latest stats body
        self.fills: Counter[str] = Counter()  #: strategy -> fills seen
        self.refusals: Counter[str] = Counter()  #: strategy -> orders refused by risk
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # -- what arrives -------------------------------------------------------------------------

    def observe(self, family: str, name: str, type_: str, body: Mapping[str, Any]) -> None:
        if family == topics.STATS:
            self.stats[name] = {**body, "_seen": self.clock()}
        elif family == topics.FILL and type_ == FILL_TYPE:
            try:
                FillEvent.decode(body)
            except ValueError as exc:
                log.warning("fill of %s not counted: %s", name, exc)
                return
            self.fills[name] += 1
        elif family == topics.RISK and type_ == "rejected":
            self.refusals[name] += 1

    async def run(self, ctx: zmq.asyncio.Context, endpoint: str) -> None:
        sub = Subscriber(ctx, endpoint, [topics.prefix(f) for f in FAMILIES])
        try:
            async for topic, env in sub:
                with contextlib.suppress(ValueError):  # not a topic of ours
                    family, name = topics.parse(topic)
                    self.observe(family, name, env.type, env.body)
        finally:
            sub.close()

    # -- a scrape -----------------------------------------------------------------------------

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def _fresh(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [s for s in self.stats.values() if now - float(s["_seen"]) <= STALE_SECONDS]

    def collect(self) -> Iterator[Metric]:
        stats = self._fresh()
        yield from self._process_metrics(stats)
        yield from self._bus_metrics(stats)
        yield from self._state_metrics(self.rows())
        yield self._round_trips(stats)
        fills = CounterMetricFamily("ats_fills", "Fills of each strategy seen on the bus since "
                                    "the web console started.", labels=["strategy"])
        for strategy, n in sorted(self.fills.items()):
            fills.add_metric([strategy], n)
        yield fills
        refusals = CounterMetricFamily("ats_risk_refusals", "Orders the broker's risk checks "
                                       "refused, per strategy, since the web console started.",
                                       labels=["strategy"])
        for strategy, n in sorted(self.refusals.items()):
            refusals.add_metric([strategy], n)
        yield refusals

    def _process_metrics(self, stats: list[dict[str, Any]]) -> Iterator[Metric]:
        gauges = [  # (stats key, metric, help, scale)
            ("rss_bytes", "ats_process_resident_memory_bytes", "Resident memory.", 1.0),
            ("cpu_percent", "ats_process_cpu_percent",
             "CPU use over the last sampling interval (100: one core).", 1.0),
            ("num_fds", "ats_process_open_fds", "Open file descriptors.", 1.0),
            ("max_fds", "ats_process_max_fds", "The limit of open file descriptors.", 1.0),
            ("threads", "ats_process_threads", "OS threads.", 1.0),
            ("loop_lag_ms", "ats_process_event_loop_lag_seconds",
             "The worst asyncio event-loop lag over the last heartbeat interval.", 0.001),
        ]
        for key, name, doc, scale in gauges:
            family = GaugeMetricFamily(name, doc, labels=["process", "kind"])
            for s in stats:
                value = _num(s.get(key))
                if value is not None:
                    family.add_metric([s["name"], s["kind"]], value * scale)
            yield family
        cpu = CounterMetricFamily("ats_process_cpu_seconds", "User and system CPU time.",
                                  labels=["process", "kind"])
        up = GaugeMetricFamily("ats_process_up", "1 while supervisord runs the process.",
                               labels=["process", "kind"])
        for s in stats:
            value = _num(s.get("cpu_seconds"))
            if value is not None:
                cpu.add_metric([s["name"], s["kind"]], value)
            up.add_metric([s["name"], s["kind"]], 1.0 if s.get("state") == "RUNNING" else 0.0)
        yield cpu
        yield up

    def _bus_metrics(self, stats: list[dict[str, Any]]) -> Iterator[Metric]:
        hub = next((s for s in stats if s["name"] == "bus"), {})
        messages = CounterMetricFamily("ats_bus_messages", "Messages through the bus hub: "
                                       "published (in) and forwarded to subscribers (out).",
                                       labels=["direction"])
        size = CounterMetricFamily("ats_bus_bytes", "Bytes through the bus hub.",
                                   labels=["direction"])
        for direction in ("in", "out"):
            n, b = _num(hub.get(f"messages_{direction}")), _num(hub.get(f"bytes_{direction}"))
            if n is not None:
                messages.add_metric([direction], n)
            if b is not None:
                size.add_metric([direction], b)
        yield messages
        yield size

    def _state_metrics(self, rows: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
        state = GaugeMetricFamily("ats_strategy_state", "1 for the state each strategy is "
                                  "in, 0 for the others.", labels=["strategy", "state"])
        trading = GaugeMetricFamily("ats_strategy_trading_state", "1 for each strategy's "
                                    "trading state, 0 for the others.",
                                    labels=["strategy", "state"])
        venue = GaugeMetricFamily("ats_venue_connected", "1 while the process is connected to "
                                  "the venue (the broker, each strategy host).",
                                  labels=["process"])
        for row in rows:
            name = str(row.get("name"))
            if row.get("kind") == "strategy":
                now = str(row.get("state"))
                for s in (*STRATEGY_STATES, *([now] if now not in STRATEGY_STATES else [])):
                    state.add_metric([name, s], 1.0 if s == now else 0.0)
                if row.get("trading_state"):
                    for s in TRADING_STATES:
                        trading.add_metric([name, s], 1.0 if s == row["trading_state"] else 0.0)
            if row.get("venue") is not None and (row.get("kind") == "strategy"
                                                 or name == "broker"):
                venue.add_metric([name], 1.0 if row.get("venue") == "connected" else 0.0)
        yield state
        yield trading
        yield venue

    def _round_trips(self, stats: list[dict[str, Any]]) -> Metric:
        family = HistogramMetricFamily(
            "ats_order_round_trip_seconds", "Each order's time from leaving its strategy host "
            "to the broker's approval (stage approve), the venue's acknowledgement (ack) and "
            "its complete fill (fill).", labels=["strategy", "stage"])
        for s in stats:
            latency = s.get("order_latency")
            if s.get("kind") != "strategy" or not isinstance(latency, Mapping):
                continue
            for stage, data in sorted(latency.items()):
                try:
                    h = Histogram.from_dict(data)
                except (KeyError, TypeError, ValueError):
                    continue
                buckets = [("+Inf" if math.isinf(b) else repr(b), float(n))
                           for b, n in h.cumulative()]
                family.add_metric([s["name"], str(stage)], buckets, h.sum)
        return family
