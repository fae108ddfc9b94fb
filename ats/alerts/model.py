"""An alert: its severity, what it is about, and how many repeats were folded into it."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any


class Level(enum.IntEnum):
    """Severity, ordered: a URL's ``min_level`` receives that level and the ones above."""

    INFO = 20  #: something the operator may want to know (a resume, a daily summary)
    WARNING = 30  #: needs a look (a halt, an erroring strategy, a lost heartbeat)
    CRITICAL = 40  #: needs action now (a crash loop, a reconciliation break, a long disconnect)

    @classmethod
    def parse(cls, text: object) -> Level:
        """A level from its name; the bus's other names map onto the three (ERROR and FATAL
        are CRITICAL; DEBUG and anything unknown are INFO)."""
        name = str(text or "").upper()
        if name in ("ERROR", "FATAL", "CRITICAL"):
            return cls.CRITICAL
        if name in ("WARNING", "WARN"):
            return cls.WARNING
        return cls.INFO


@dataclass(frozen=True)
class Alert:
    level: Level
    key: str  #: what it is about; repeats of one key are folded (e.g. "state:ltmt:ERRORING")
    title: str  #: one line
    message: str = ""  #: the details
    source: str = ""  #: the strategy or process it is about
    ts: float = 0.0  #: when it was raised (epoch seconds)
    folded: int = 0  #: repeats folded into this one since the last delivery of its key
    id: str = ""

    @classmethod
    def make(cls, level: Level, key: str, title: str, message: str = "", *, source: str = "",
             ts: float) -> Alert:
        return cls(level, key, title, message, source, ts, 0, uuid.uuid4().hex[:16])

    def repeat(self, folded: int, ts: float) -> Alert:
        """This alert again, saying how many of its kind were folded into it."""
        return replace(self, folded=folded, ts=ts, id=uuid.uuid4().hex[:16])

    @property
    def subject(self) -> str:
        more = f" (+{self.folded} repeats folded)" if self.folded else ""
        return f"[ats {self.level.name}] {self.title}{more}"

    @property
    def body(self) -> str:
        lines = [self.message or self.title]
        if self.folded:
            lines.append(f"{self.folded} more alerts like this one were folded into this one.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["level"] = self.level.name
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        return cls(Level.parse(d.get("level")), str(d.get("key", "")), str(d.get("title", "")),
                   str(d.get("message", "")), str(d.get("source", "")),
                   float(d.get("ts") or 0.0), int(d.get("folded") or 0), str(d.get("id", "")))
