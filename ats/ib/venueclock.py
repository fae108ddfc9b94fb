"""The venue's clock, for a process that must stamp things with the venue's time."""

from __future__ import annotations

import time

import pandas as pd


class VenueClock:
    """The venue's time: wall time scaled by the simulator's speed from a synchronised point."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._venue0 = time.time()
        self._wall0 = time.monotonic()
        self.latest_bar: pd.Timestamp | None = None

    def sync(self, venue_now: float) -> None:
        self._venue0, self._wall0 = venue_now, time.monotonic()

    def now(self) -> pd.Timestamp:
        t = pd.Timestamp(self._venue0 + (time.monotonic() - self._wall0) * self.speed,
                         unit="s", tz="UTC")
        if self.latest_bar is not None and self.latest_bar > t:
            return self.latest_bar
        return t
