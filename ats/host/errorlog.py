"""Exceptions raised by a strategy's handlers: how many in a sliding window, and the last one.

The host records every exception its guard catches (``on_bar``, ``on_fill``, scheduled
callbacks, ...) and publishes the count and the last error in its heartbeat. The halt policy
(``[host] halt_after_errors``) asks for a halt when that many errors fall within the window.
The host re-arms it when its trading leaves HALTED (an operator's ``resume``): from then on
it takes that many *new* errors to halt again. Times are unix seconds given by the caller (no
clock is read here), so the window is tested with explicit times.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

#: Seconds of the sliding window of the error count (the "5m" of ``errors_5m``).
WINDOW = 300.0
#: Error times kept; past this many the count in the window saturates (bounded memory).
MAX_KEPT = 10_000


@dataclass(frozen=True)
class HandlerError:
    """One exception a strategy handler raised."""

    where: str  #: the driver call that raised: handle_bar, handle_fill, advance_clock, ...
    type: str  #: the exception's class name, e.g. "ValueError"
    message: str  #: str() of the exception
    time: float  #: unix seconds

    @classmethod
    def of(cls, where: str, exc: BaseException, now: float) -> HandlerError:
        return cls(where, type(exc).__name__, str(exc), now)

    @property
    def text(self) -> str:
        """``"Type: message"``, as shown by ``ats-ctl status`` and carried by alerts."""
        return f"{self.type}: {self.message}" if self.message else self.type

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "type": self.type, "message": self.message,
                "time": self.time}


class ErrorLog:
    """Counts handler errors over the last ``window`` seconds and decides when to halt.

    ``halt_after`` errors within the window make ``halt_due`` true (0 never does); after
    ``rearm()`` only errors recorded later count towards the next halt."""

    def __init__(self, halt_after: int = 0, window: float = WINDOW) -> None:
        if halt_after < 0:
            raise ValueError(f"halt_after must be >= 0, got {halt_after}")
        self.halt_after = halt_after
        self.window = window
        self.total = 0  #: every error since the host started
        self.last: HandlerError | None = None
        self._times: deque[float] = deque(maxlen=MAX_KEPT)  #: error times, oldest first
        self._total_at_rearm = 0  #: ``total`` when the policy was last re-armed

    def record(self, where: str, exc: BaseException, now: float) -> HandlerError:
        """Count one exception raised at ``now``; return it as a HandlerError."""
        err = HandlerError.of(where, exc, now)
        self._times.append(now)
        self.total += 1
        self.last = err
        return err

    def repeats_last(self, where: str, exc: BaseException) -> bool:
        """True when ``exc`` is the same error, from the same place, as the last one (the
        host then logs one line instead of the whole traceback again)."""
        last = self.last
        return last is not None and (last.where, last.type, last.message) == (
            where, type(exc).__name__, str(exc))

    def count(self, now: float) -> int:
        """Errors in the window ``(now - window, now]``."""
        start = now - self.window
        while self._times and self._times[0] <= start:
            self._times.popleft()
        return sum(1 for t in self._times if t <= now)

    def halt_due(self, now: float) -> bool:
        """``halt_after`` errors in the window, all recorded since the last ``rearm()``."""
        if not self.halt_after:
            return False
        # Errors in the window and errors since the re-arm are both the latest errors, so the
        # ones in both are the fewer of the two.
        return min(self.count(now), self.total - self._total_at_rearm) >= self.halt_after

    def rearm(self) -> None:
        """The errors so far no longer count towards the next halt."""
        self._total_at_rearm = self.total

    def info(self, now: float) -> dict[str, Any]:
        """The heartbeat's error fields."""
        return {"errors_5m": self.count(now), "errors_total": self.total,
                "last_error": self.last.to_dict() if self.last is not None else None}
