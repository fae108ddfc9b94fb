"""Simulated time: starts at a chosen instant and runs `speed` times faster than wall time
(`SimClock`), or stands still until it is advanced (`SteppedClock`, moved by the admin command
`advance`)."""

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


class SteppedClock(SimClock):
    """A clock that stands still: only `set` moves it, and never backwards."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        super().__init__(start)
        self.speed = 0.0
        self._now = self._start

    def timestamp(self) -> float:
        return self._now

    def wall_seconds(self, sim_seconds: float) -> float:
        """Time stands still: nothing that waits on sim time waits on the wall."""
        return 0.0

    def set(self, ts: float) -> None:
        if ts < self._now:
            raise ValueError(f"the clock never runs backwards: {ts} < {self._now}")
        self._now = ts


def parse_start(text: str) -> dt.datetime:
    """Parse an ISO 8601 instant; a naive one is taken as UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: `[sim] clock` modes: where the clock starts when no start is pinned; "stepped" stands still
#: (at the pinned start, else now) until the admin command `advance` moves it
CLOCK_MODES = ("session", "wall", "stepped")


def initial_start(mode: str, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """The start of an unpinned clock and a sentence saying why. "wall": now (the real
    calendar: on a weekend the market is closed). "session": now while a New York session is
    open, else inside the most recent session, so that a demo trades on any day."""
    if mode == "wall":
        return None, "clock: the wall clock ([sim] clock = \"wall\")"
    if mode == "stepped":
        return None, "clock: stepped, stands still at the wall clock's now until advanced"
    if mode != "session":
        raise ValueError(f"clock mode must be one of {', '.join(CLOCK_MODES)}, got {mode!r}")
    from ats.sim.calendar import demo_start  # exchange_calendars loads in ~0.5 s

    start = demo_start(now)
    if start == now:
        return None, "clock: the wall clock, a New York session is open"
    return start, (f"clock: starts in the last New York session, at {start:%a %Y-%m-%d %H:%M} "
                   "UTC, and runs on from there ([sim] clock = \"wall\" follows the real "
                   "calendar)")
