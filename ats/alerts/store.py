"""Where alerts are kept: every alert in a JSON-lines file (``log/alerts.jsonl``, read by
`ats-ctl alerts`), and those not yet delivered in a durable outbox (``state/alerts-outbox.json``),
so nothing is lost while a notification service is down or this process restarts.

Neither holds a URL: a destination is named by ``dest_id`` (a hash of its URL), since URLs may
hold credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ats.alerts.model import Alert

#: the alert log is rotated (to alerts.jsonl.1) past this size
MAX_LOG_BYTES = 5_000_000


class AlertLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, alert: Alert, **extra: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            if self.path.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        line = json.dumps({**alert.to_dict(), **extra}, separators=(",", ":"))
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def recent(self, n: int) -> list[dict[str, Any]]:
        """The last `n` records, oldest first (a torn last line is skipped)."""
        out: deque[dict[str, Any]] = deque(maxlen=max(n, 0))
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            if not path.exists():
                continue
            with path.open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        if isinstance(record, dict):
                            out.append(record)
        return list(out)


@dataclass
class Pending:
    """One alert waiting for delivery to one destination."""

    dest_id: str
    alert: Alert
    attempts: int = 0
    next_try: float = 0.0  #: epoch seconds; 0: at once
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"dest_id": self.dest_id, "alert": self.alert.to_dict(),
                "attempts": self.attempts, "next_try": self.next_try, "error": self.error}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pending:
        return cls(str(d["dest_id"]), Alert.from_dict(d["alert"]), int(d.get("attempts", 0)),
                   float(d.get("next_try", 0.0)), str(d.get("error", "")))


class Outbox:
    """The undelivered (destination, alert) pairs, in order, written whole and atomically
    (temp file, fsync, rename) after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[Pending] = []

    def load(self, dest_ids: Iterable[str]) -> int:
        """Read the file; keep what is for a destination still configured. How many."""
        keep = set(dest_ids)
        self.items = []
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return 0
        except ValueError:  # torn or corrupt: set it aside rather than lose it silently
            os.replace(self.path, self.path.with_suffix(".corrupt"))
            return 0
        for d in data.get("pending", []):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                p = Pending.from_dict(d)
                if p.dest_id in keep:
                    self.items.append(p)
        return len(self.items)

    def add(self, items: Iterable[Pending]) -> None:
        self.items.extend(items)
        self.save()

    def remove(self, item: Pending) -> None:
        self.items.remove(item)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({"pending": [p.to_dict() for p in self.items]}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def head(self, dest_id: str) -> Pending | None:
        """The oldest undelivered alert of a destination (each is delivered in order)."""
        return next((p for p in self.items if p.dest_id == dest_id), None)
