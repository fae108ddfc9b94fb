"""The venue's clock, for a process that must stamp things with the venue's time."""

from __future__ import annotations

import time

import pandas as pd


class VenueClock:
    """The venue's time: wall time scaled by the simulator's speed from a synchronised point.

    `stepped`: the venue's clock stands still until it is advanced (`[sim] clock = "stepped"`),
    so this one never runs on wall time either: it moves only when told the venue's time
    (`sync`, `follow`), and never backwards. `speed` stays the wall-time rate of pacing."""

    def __init__(self, speed: float = 1.0, stepped: bool = False) -> None:
        self.speed = speed
        self.stepped = stepped
        self._venue0 = time.time()
        self._wall0 = time.monotonic()
        self._synced = False
        self.latest_bar: pd.Timestamp | None = None

    def sync(self, venue_now: float) -> None:
        if self.stepped and self._synced:
            self.follow(venue_now)
        else:
            self._venue0, self._wall0, self._synced = venue_now, time.monotonic(), True

    def follow(self, venue_now: float) -> None:
        """A stepped clock moves forward to `venue_now` (a bar, or the venue's reply, says the
        venue got there); a running clock ignores it."""
        if self.stepped and venue_now > self._venue0:
            self._venue0 = venue_now

    def now(self) -> pd.Timestamp:
        rate = 0.0 if self.stepped else self.speed
        t = pd.Timestamp(self._venue0 + (time.monotonic() - self._wall0) * rate,
                         unit="s", tz="UTC")
        if self.latest_bar is not None and self.latest_bar > t:
            return self.latest_bar
        return t
