"""What the routes share: the control path, the live bus, the sessions and the audit log."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ats.scheduler.listing import Schedule
from ats.web.audit import AuditLog
from ats.web.auth import SESSION_COOKIE, Sessions
from ats.web.backend import Backend
from ats.web.live import LiveBus
from ats.web.metrics import Metrics

Closes = Callable[[str, str, pd.Timestamp, pd.Timestamp], pd.Series]


@dataclass
class Console:
    backend: Backend
    live: LiveBus | None  #: None in tests of the API alone
    sessions: Sessions
    audit: AuditLog
    log_dir: Path
    #: Secure cookies (served over TLS)
    secure: bool = False
    #: the session cookie's name: cookies do not tell ports apart, so two systems on one
    #: machine each name theirs after their port
    cookie: str = SESSION_COOKIE
    #: the Host headers served (None: any); on loopback only loopback names, so a page of
    #: another site that rebinds its DNS name to 127.0.0.1 cannot even read
    hosts: tuple[str, ...] | None = None
    #: what GET /metrics exports (None: no /metrics)
    metrics: Metrics | None = None
    #: closes(symbol, bar_size, start, end) of the stored market data (None: no benchmark)
    closes: Closes | None = None
    #: the ArcticDB store the Data page reads (None: no Data page data)
    arctic_uri: str | None = None
    #: the scheduled data jobs the Schedule page shows (None: none)
    schedule: Schedule | None = None


def _clean(x: Any) -> Any:
    """JSON has no NaN or infinity: they become null (a mark not known yet)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def dumps(data: Any) -> str:
    return json.dumps(_clean(data), default=str, separators=(",", ":"))
