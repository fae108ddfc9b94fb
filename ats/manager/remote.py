"""The manager's side of the joined hosts: requests to their agents through the switchboard
(the ROUTER each agent dials as ``agent.<host>``), the hosts' views from the agents'
heartbeats, and the one alert when a host goes LOST or comes back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import zmq.asyncio

from ats import config as config_mod
from ats.agent.wire import process_name, service_name
from ats.errors import Code
from ats.manager.hosts import Change, Hosts
from bus import topics
from bus.dialer import Switchboard
from bus.errors import Code as BusCode
from bus.errors import RequestError
from bus.publisher import Publisher

log = logging.getLogger("ats.manager.remote")
#: seconds an agent may take over one request (a start waits for supervisord's startsecs)
AGENT_TIMEOUT = 20.0
#: a sync of an agent that just arrived is tried this many times, this far apart
SYNC_ATTEMPTS = 10
SYNC_RETRY_SECONDS = 0.5


def lost_alert(change: Change, lost_seconds: float, strategies: list[str]) -> dict[str, Any]:
    """The body of the alert on alert.agent-<host>: CRITICAL when the host is lost, INFO when
    it is back."""
    host, names = change.host, ", ".join(strategies) or "none"
    if change.lost:
        silent = "has never been heard" if change.silent is None else \
            f"has sent no heartbeat for {change.silent:.0f} s"
        message = (f"host {host} LOST: its agent {silent} (> [hosts] lost_seconds "
                   f"{lost_seconds:g}); its strategies show LOST: {names}. The rest of the "
                   "system is untouched.")
        return {"level": "CRITICAL", "kind": "host_lost", "host": host,
                "key": f"host:{host}:lost", "message": message}
    return {"level": "INFO", "kind": "host_back", "host": host, "key": f"host:{host}:back",
            "message": f"host {host} is back: its agent beats again; its strategies show "
                       f"their own state: {names}"}


class RemoteHosts:
    def __init__(self, cfg: config_mod.Config, ctx: zmq.asyncio.Context, publisher: Publisher,
                 started_at: float) -> None:
        hcfg = cfg.section("hosts")
        self.hosts = Hosts(str(hcfg["name"]), float(hcfg["lost_seconds"]), started_at)
        self.switchboard = Switchboard(ctx, cfg.endpoints.agents, "manager", AGENT_TIMEOUT)
        self.publisher = publisher
        self._tasks: set[asyncio.Task[None]] = set()

    def lost_text(self, host: str, now: float) -> str:
        if not self.hosts.known(host):
            return (f"no agent of host {host!r} has been heard on the bus: start it there "
                    "(`ats-ctl init --join ...`, then `ats-ctl up` on that host)")
        return (f"host {host!r} is LOST: its agent has sent no heartbeat for "
                f"{self.hosts.silence(host, now):.0f} s")

    async def call(self, host: str, method: str, params: dict[str, Any],
                   now: float) -> None:
        """One request to the host's agent; its reply's programs become the host's view. A
        host that is LOST, unknown or silent fails with HOST_LOST."""
        if not self.hosts.known(host) or self.hosts.is_lost(host, now):
            raise RequestError(Code.HOST_LOST, self.lost_text(host, now))
        try:
            reply = await self.switchboard.request(service_name(host), method, params)
        except RequestError as exc:
            if exc.code in (BusCode.UNREACHABLE, BusCode.TIMEOUT):
                raise RequestError(Code.HOST_LOST, f"host {host!r}: {exc.message}") from exc
            raise
        if isinstance(reply, Mapping):
            self.hosts.set_programs(host, reply.get("programs") or [])

    def sync_soon(self, host: str, wanted: Mapping[str, bool], now: float) -> None:
        """Make the host's program sections the registry's, in the background (its agent just
        arrived: first heard, or back from LOST)."""
        async def sync() -> None:
            # its heartbeat may come before its dialer's handshake is done: try a few times
            for attempt in range(1, SYNC_ATTEMPTS + 1):
                try:
                    await self.call(host, "sync", {"strategies": dict(wanted)}, now)
                    log.info("host %s synced: %d strategies", host, len(wanted))
                    return
                except RequestError as exc:
                    if attempt == SYNC_ATTEMPTS or exc.code != Code.HOST_LOST:
                        log.warning("cannot sync host %s: %s", host, exc.message)
                        return
                await asyncio.sleep(SYNC_RETRY_SECONDS)

        task = asyncio.ensure_future(sync())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def check(self, strategies: Mapping[str, list[str]], now: float) -> None:
        """Alert each host of ``strategies`` (host -> its strategies) that went LOST or came
        back since the last check."""
        for change in self.hosts.changes(strategies, now):
            body = lost_alert(change, self.hosts.lost_seconds, strategies.get(change.host, []))
            (log.error if change.lost else log.info)("%s", body["message"])
            self.publisher.publish(topics.alert(process_name(change.host)), "alert", body)

    async def run(self) -> None:
        await self.switchboard.run()

    def stop(self) -> None:
        self.switchboard.stop()
        for task in list(self._tasks):
            task.cancel()
