"""The audit log of the web console: who did what, when, and how it ended, one JSON object a
line in ATS_HOME/log/web-audit.jsonl. Refused attempts (no session, bad CSRF token, bad login)
are written too."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: result of an action that the service carried out
OK = "ok"
#: result of an action the console refused before asking anyone (no session, bad CSRF)
REFUSED = "refused"
#: result of an action the manager or broker refused, or that failed on its way
FAILED = "failed"


@dataclass(frozen=True)
class Record:
    ts: float  #: seconds since the epoch
    who: str  #: "session:<first 8 of its id>", or "anonymous"
    remote: str  #: the client's address
    action: str  #: e.g. "stop", "set_params", "login"
    target: str  #: the strategy, "account", or ""
    result: str  #: OK, REFUSED or FAILED
    detail: str = ""  #: the error, or what changed
    params: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, who: str, remote: str, action: str, target: str, result: str,
              detail: str = "", params: dict[str, Any] | None = None) -> Record:
        rec = Record(time.time(), who, remote, action, target, result, detail, params or {})
        line = json.dumps(asdict(rec), default=str, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = "\n" + line  # after a torn last line: keep this record whole
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        return rec


def read(path: Path, limit: int = 0) -> list[dict[str, Any]]:
    """The records of ``path``, oldest first (the last ``limit`` when it is not 0); a line
    that is not JSON (a torn last write) is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out[-limit:] if limit else out
