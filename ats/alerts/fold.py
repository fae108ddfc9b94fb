"""Deduplication and rate limiting, before delivery.

- **Repeats fold.** The first alert of a key goes out at once. Others of the same key within
  ``repeat_seconds`` are counted, not sent; when the window ends, the latest of them goes out
  once, saying how many were folded into it, and opens a new window.
- **Bursts are held.** At most ``max_per_minute`` alerts go out in any 60 s; past that, the
  ones below CRITICAL are held and released as one digest (naming each, saying how many) once
  there is room. CRITICAL alerts are never held.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ats.alerts.model import Alert, Level

RATE_WINDOW = 60.0
#: titles listed in a digest of held alerts
DIGEST_LINES = 20


@dataclass
class _Window:
    start: float
    folded: int
    latest: Alert


class Folder:
    def __init__(self, repeat_seconds: float, max_per_minute: int) -> None:
        self.repeat_seconds, self.max_per_minute = repeat_seconds, max_per_minute
        self._windows: dict[str, _Window] = {}  #: key -> its open window
        self._sent: deque[float] = deque()  #: when each alert of the last minute went out
        self._held: list[Alert] = []  #: over the rate limit, waiting for room

    def offer(self, alert: Alert, now: float) -> list[Alert]:
        """The alerts to deliver now because `alert` was raised (none or one)."""
        w = self._windows.get(alert.key)
        if w is not None and now - w.start < self.repeat_seconds:
            w.folded += 1
            w.latest = alert
            return []
        self._windows[alert.key] = _Window(now, 0, alert)
        return self._limit([alert], now)

    def tick(self, now: float) -> list[Alert]:
        """Repeats whose window ended, and held alerts there is room for now."""
        out: list[Alert] = []
        for key, w in list(self._windows.items()):
            if now - w.start < self.repeat_seconds:
                continue
            if w.folded:
                out.append(w.latest.repeat(w.folded, now))
                self._windows[key] = _Window(now, 0, w.latest)
            else:
                del self._windows[key]
        out = self._limit(out, now)
        if self._held and self._room(now):
            held, self._held = self._held, []
            out += self._limit([digest(held, now)], now)
        return out

    @property
    def held(self) -> int:
        return len(self._held)

    def is_held(self, alert: Alert) -> bool:
        return any(a is alert for a in self._held)

    def _room(self, now: float) -> bool:
        while self._sent and now - self._sent[0] >= RATE_WINDOW:
            self._sent.popleft()
        return not self.max_per_minute or len(self._sent) < self.max_per_minute

    def _limit(self, alerts: list[Alert], now: float) -> list[Alert]:
        out = []
        for a in alerts:
            if a.level >= Level.CRITICAL or self._room(now):
                self._sent.append(now)
                out.append(a)
            else:
                self._held.append(a)
        return out


def digest(held: list[Alert], now: float) -> Alert:
    """One alert standing for several held by the rate limit."""
    lines = [f"{a.level.name} {a.title}" + (f" (+{a.folded})" if a.folded else "")
             for a in held[:DIGEST_LINES]]
    if len(held) > DIGEST_LINES:
        lines.append(f"... and {len(held) - DIGEST_LINES} more (ats-ctl alerts lists them)")
    return Alert.make(max(a.level for a in held), "rate-limit",
                      f"{len(held)} alerts held back by the rate limit", "\n".join(lines),
                      source="alerts", ts=now)
