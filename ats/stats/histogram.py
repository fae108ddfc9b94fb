"""A fixed-bucket histogram (as Prometheus keeps them), and the order round trips of a host.

A histogram travels in heartbeats and ``stats.<process>`` messages as a plain dict
(``to_dict``): its bucket upper bounds, the count in each bucket (not cumulative; the last
bucket is +Inf), the sum and the count of the observations.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

#: upper bounds (seconds) of the order round-trip buckets: 1 ms to a minute
ROUND_TRIP_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: the stages of an order's round trip, each timed from the moment the host sends it out
#: (before the broker's approval): approved by the broker, acknowledged by the venue, filled
STAGES = ("approve", "ack", "fill")
#: orders whose round trip is still open, at most (the oldest are forgotten)
MAX_PENDING = 10_000


class Histogram:
    def __init__(self, bounds: Sequence[float] = ROUND_TRIP_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError(f"bucket bounds must be increasing and distinct: {bounds}")
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)  #: per bucket; the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose upper bound is >= it."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= it) for each bucket, ending with (+Inf, count)."""
        out, total = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket that holds the q-quantile (inf past the last bound),
        or None without observations."""
        if not self.count:
            return None
        rank = q * self.count
        for bound, total in self.cumulative():
            if total >= rank:
                return bound
        return math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.sum,
                "count": self.count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        h = cls([float(b) for b in data["bounds"]])
        counts = [int(n) for n in data["counts"]]
        if len(counts) != len(h.counts):
            raise ValueError(f"{len(counts)} counts for {len(h.bounds)} bounds + Inf")
        h.counts, h.sum = counts, float(data["sum"])
        h.count = sum(counts)
        return h


class RoundTrips:
    """The round trips of a host's orders: each stage's latency, from ``sent()`` to the first
    ``reached()`` of that stage, in one histogram per stage. Times are monotonic seconds."""

    def __init__(self, bounds: Sequence[float] = ROUND_TRIP_BUCKETS) -> None:
        self.histograms = {stage: Histogram(bounds) for stage in STAGES}
        self._sent: OrderedDict[str, tuple[float, set[str]]] = OrderedDict()

    def sent(self, order: str, at: float) -> None:
        self._sent[order] = (at, set())
        while len(self._sent) > MAX_PENDING:
            self._sent.popitem(last=False)

    def rename(self, old: str, new: str) -> None:
        """The order is known by another id from now on (its orderRef once approved)."""
        if old in self._sent:
            self._sent[new] = self._sent.pop(old)

    def reached(self, order: str, stage: str, at: float) -> None:
        """The order reached ``stage``; counted once per order and stage. A fill ends it."""
        pending = self._sent.get(order)
        if pending is None:
            return
        start, done = pending
        if stage not in done:
            done.add(stage)
            self.histograms[stage].observe(max(0.0, at - start))
        if stage == "fill":
            self._sent.pop(order, None)

    def forget(self, order: str) -> None:
        """The order ended without a fill (cancelled, rejected)."""
        self._sent.pop(order, None)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {stage: h.to_dict() for stage, h in self.histograms.items()}
