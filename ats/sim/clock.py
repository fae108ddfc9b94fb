"""Simulated time: starts at a chosen instant and runs `speed` times faster than wall time."""

from __future__ import annotations

import datetime as dt
import time

UTC = dt.UTC


class SimClock:
    def __init__(self, start: dt.datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        start = start or dt.datetime.now(UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._start = start.timestamp()
        self._wall0 = time.monotonic()

    def timestamp(self) -> float:
        """Seconds since the Unix epoch, in sim time."""
        return self._start + (time.monotonic() - self._wall0) * self.speed

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp(), UTC)

    def today(self) -> dt.date:
        return self.now().date()

    def wall_seconds(self, sim_seconds: float) -> float:
        """Wall-clock seconds that `sim_seconds` of sim time take."""
        return sim_seconds / self.speed


def parse_start(text: str) -> dt.datetime:
    """Parse an ISO 8601 instant; a naive one is taken as UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
