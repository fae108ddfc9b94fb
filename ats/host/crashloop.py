"""Crash-loop protection for strategy hosts.

supervisord restarts a RUNNING program at once and without limit, so a strategy that crashes
after start-up would loop forever. Each crash is recorded; the host backs off (1, 2, 4, … s)
before exiting, and after LIMIT crashes within WINDOW seconds it exits with CRASH_LOOP_EXIT,
which the program section lists as expected, so supervisord leaves it stopped until the
operator starts it again (which clears the record).
"""

from __future__ import annotations

import json
from pathlib import Path

CRASH_LOOP_EXIT = 75
#: The program sections' startsecs. supervisord counts an exit sooner than this as a failed
#: start whatever its code (BACKOFF, retried, then FATAL), so a host that gives up before it
#: waits out the rest: a crash-loop exit must be seen as one.
STARTSECS = 1
LIMIT = 5
WINDOW = 300.0
MAX_BACKOFF = 30.0
#: A host that has run this long without crashing clears its record.
HEALTHY_AFTER = 60.0


def record_path(state_dir: Path, name: str) -> Path:
    return state_dir / f"strategy-{name}.crashes"


class CrashRecord:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> list[float]:
        try:
            data = json.loads(self.path.read_text())
            return [float(t) for t in data] if isinstance(data, list) else []
        except (OSError, ValueError, TypeError):  # missing or corrupt: no earlier crash
            return []

    def record(self, now: float) -> int:
        """Add a crash at `now`; return the crashes within the window."""
        recent = [t for t in self._load() if now - t <= WINDOW] + [now]
        self.path.write_text(json.dumps(recent))
        return len(recent)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def backoff(crashes: int) -> float:
    return float(min(MAX_BACKOFF, 2 ** max(crashes - 1, 0)))


def settle(uptime: float) -> float:
    """Seconds to wait before the crash-loop exit, so that supervisord sees it expected."""
    return max(0.0, STARTSECS + 0.5 - uptime)
