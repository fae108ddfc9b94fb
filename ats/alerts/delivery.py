"""Delivery through Apprise (email, Telegram, Slack, webhooks, ... from one URL scheme), with
retries.

``[alerts] urls`` lists the destinations, each an Apprise URL with a minimum level. A URL may
hold credentials: it stays in this process. Elsewhere a destination is its ``dest_id`` (a hash)
or its masked form (Apprise's own privacy rendering: passwords and tokens starred).

``Courier`` delivers the outbox, one destination after another, oldest alert first; a failure
is retried with doubling backoff (``retry_seconds`` up to ``retry_max_seconds``) and nothing
leaves the outbox until it is delivered. Apprise is blocking: each send runs in a thread, so
the bus is read on while a service is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import apprise

from ats.alerts.model import Alert, Level
from ats.alerts.store import Outbox, Pending

log = logging.getLogger("ats.alerts.delivery")

NOTIFY_TYPES = {Level.INFO: apprise.NotifyType.INFO, Level.WARNING: apprise.NotifyType.WARNING,
                Level.CRITICAL: apprise.NotifyType.FAILURE}
#: seconds one send may take, all of it
SEND_TIMEOUT = 20.0


@dataclass(frozen=True)
class Destination:
    url: str
    min_level: Level

    @property
    def dest_id(self) -> str:
        return hashlib.sha256(self.url.encode()).hexdigest()[:12]

    @property
    def masked(self) -> str:
        return mask(self.url)

    def wants(self, alert: Alert) -> bool:
        return alert.level >= self.min_level


def mask(url: str) -> str:
    """The URL with its secrets starred (Apprise's privacy form, without the query of
    options), or only its scheme when Apprise does not know it."""
    service = apprise.Apprise.instantiate(url)
    if service is None:
        return f"{urlsplit(url).scheme or '?'}://****"
    private = str(service.url(privacy=True))  # type: ignore[no-untyped-call]
    return private.split("?", 1)[0]


def destinations(urls: Iterable[Any]) -> list[Destination]:
    """[alerts] urls: a table {url, min_level} each (a bare string: min_level WARNING)."""
    out = []
    for item in urls:
        if isinstance(item, Mapping):
            out.append(Destination(str(item["url"]),
                                   Level.parse(item.get("min_level", "WARNING"))))
        else:
            out.append(Destination(str(item), Level.WARNING))
    return out


@dataclass(frozen=True)
class Result:
    ok: bool
    error: str = ""


def send(dest: Destination, subject: str, body: str, level: Level) -> Result:
    """One notification to one destination. Blocking."""
    ap = apprise.Apprise()
    if not ap.add(dest.url):
        return Result(False, f"not an Apprise URL Apprise can use: {dest.masked}")
    try:
        result = ap.notify(body, title=subject, notify_type=NOTIFY_TYPES[level],
                           timeout=SEND_TIMEOUT)
    except Exception as exc:  # a plugin bug must not end the courier
        return Result(False, f"{type(exc).__name__}: {exc}")
    if result:
        return Result(True)
    errors = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    return Result(False, "; ".join(errors[-2:]) or "delivery failed")


Sender = Callable[[Destination, str, str, Level], Result]


class Courier:
    def __init__(self, dests: list[Destination], outbox: Outbox, *,
                 retry_seconds: float = 2.0, retry_max_seconds: float = 300.0,
                 sender: Sender = send, clock: Callable[[], float] = time.time) -> None:
        self.dests = {d.dest_id: d for d in dests}
        self.outbox, self.sender, self.clock = outbox, sender, clock
        self.retry_seconds, self.retry_max_seconds = retry_seconds, retry_max_seconds
        self.wake = asyncio.Event()
        self.delivered = 0

    def enqueue(self, alerts: Iterable[Alert]) -> int:
        """Put each alert in the outbox for every destination that wants its level."""
        items = [Pending(d.dest_id, a) for a in alerts for d in self.dests.values()
                 if d.wants(a)]
        if items:
            self.outbox.add(items)
            self.wake.set()
        return len(items)

    def backoff(self, attempts: int) -> float:
        return float(min(self.retry_max_seconds, self.retry_seconds * 2 ** (attempts - 1)))

    async def deliver_due(self) -> float:
        """Deliver every destination's due alerts, in order, until one fails; the seconds
        until the next retry is due (or 1 s when nothing waits)."""
        wait = 1.0
        for dest_id, dest in self.dests.items():
            while (item := self.outbox.head(dest_id)) is not None:
                now = self.clock()
                if item.next_try > now:
                    wait = min(wait, item.next_try - now)
                    break
                a = item.alert
                result = await asyncio.to_thread(self.sender, dest, a.subject, a.body, a.level)
                if result.ok:
                    self.outbox.remove(item)
                    self.delivered += 1
                    continue
                item.attempts += 1
                delay = self.backoff(item.attempts)
                item.next_try, item.error = self.clock() + delay, result.error
                self.outbox.save()
                log.warning("alert %r to %s not delivered (attempt %d; again in %.0f s): %s",
                            a.title, dest.masked, item.attempts, delay, result.error)
                wait = min(wait, delay)
                break
        return max(wait, 0.05)

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                wait = await self.deliver_due()
            except Exception:  # e.g. the outbox cannot be written: keep going, it is in memory
                log.exception("delivery round failed")
                wait = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
