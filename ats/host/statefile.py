"""A strategy's saved state on disk: written atomically whenever it changes.

The host saves after every hook that may change it (a bar, a fill, an order update, a
scheduled callback, a parameter change), so a kill -9 loses at most the hook that was running.
An unchanged state is not rewritten; a failed write (a full disk) is logged and retried at the
next save.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ats.atomicfile import atomic_write

log = logging.getLogger(__name__)


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._written: str | None = None  #: the text on disk, as last written or read
        self._failing = False

    def read(self) -> dict[str, Any] | None:
        """The saved state; None when there is none. Raises ValueError when unreadable."""
        if not self.path.exists():
            return None
        text = self.path.read_text()
        state = json.loads(text)
        if not isinstance(state, dict):
            raise ValueError(f"{self.path} does not hold a JSON object")
        self._written = text
        return state

    def save(self, state: dict[str, Any]) -> bool:
        """Write `state` unless it is what the file holds; True when written."""
        text = json.dumps(state, sort_keys=True)
        if text == self._written:
            return False
        try:
            atomic_write(self.path, text.encode())
        except OSError as exc:
            if not self._failing:
                log.error("could not save the strategy's state to %s (retrying at every "
                          "change): %s", self.path, exc)
            self._failing = True
            return False
        if self._failing:
            log.warning("strategy state saved again to %s", self.path)
        self._failing = False
        self._written = text
        return True
