"""ats-agent: runs on a joined host (`ats-ctl init --join`) under that host's supervisord.

It dials the manager's switchboard on the main host's bus (``[bus]`` points there, with
CURVE beyond loopback) as service ``agent.<host>`` and relays the manager's requests to its
own supervisord over the 0700 unix socket: a strategy's program section written or removed,
start, stop, the programs' states. It beats on ``hb.agent-<host>.`` every second with those
states, which is how the manager sees the host's strategies and notices the host LOST.

Why an agent rather than supervisord's inet_http_server: the agent is one more bus client,
authenticated and encrypted by the CURVE keys and allow-list the bus already has, with no
second credential to hand out; XML-RPC over plain HTTP would carry its password in clear
across hosts, and would need a port opened on every joined host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import xmlrpc.client
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import zmq
import zmq.asyncio

from ats import config as config_mod
from ats.agent.programs import Programs
from ats.agent.wire import process_name, service_name
from ats.errors import Code
from ats.manager import supervisor as sv
from ats.processes import BusLogHandler, install_stop_handlers, service_main
from bus.dialer import DialingService
from bus.errors import Code as BusCode
from bus.errors import RequestError
from bus.heartbeat import HEARTBEAT_INTERVAL, Heartbeater
from bus.publisher import Publisher

log = logging.getLogger("ats.agent")
T = TypeVar("T")


def _name(params: dict[str, Any]) -> str:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(BusCode.BAD_REQUEST, "missing 'name'")
    return name


class Agent:
    def __init__(self, cfg: config_mod.Config, programs: Programs | None = None) -> None:
        self.cfg = cfg
        self.host = str(cfg.section("hosts")["name"])
        self.ctx = zmq.asyncio.Context()
        self.sync_ctx = zmq.Context()
        eps = cfg.endpoints
        self.publisher = Publisher(self.sync_ctx, eps.publish, process_name(self.host))
        self.service = DialingService(self.ctx, eps.agents, service_name(self.host),
                                      service_name(self.host))
        self.programs = programs or Programs(cfg)
        #: the strategy programs at the last look (None: no look yet)
        self.rows: list[dict[str, Any]] | None = None
        self.supervisor_up = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor")
        self._stop = asyncio.Event()
        for method, fn in {"sync": self.m_sync, "start": self.m_start, "stop": self.m_stop,
                           "remove": self.m_remove, "info": self.m_info}.items():
            self.service.register(method, fn)

    async def _sv(self, fn: Callable[..., list[dict[str, Any]]],
                  *args: Any) -> dict[str, Any]:
        """One blocking supervisord call off the loop, one at a time; the reply is the host's
        programs after it."""
        try:
            rows = await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except sv.UNREACHABLE_ERRORS as exc:
            self.supervisor_up = False
            raise RequestError(Code.SUPERVISOR_DOWN, f"supervisord of host {self.host} at "
                               f"{self.cfg.supervisor_socket} is unreachable: {exc}") from exc
        except xmlrpc.client.Fault as fault:
            raise RequestError(BusCode.INTERNAL, f"supervisord of host {self.host}: "
                               f"{fault.faultString}") from fault
        self.rows, self.supervisor_up = rows, True
        return {"host": self.host, "programs": rows}

    async def m_sync(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("strategies")
        if not isinstance(wanted, dict):
            raise RequestError(BusCode.BAD_REQUEST, "sync needs 'strategies': {name: running}")
        return await self._sv(self.programs.sync, {str(k): bool(v) for k, v in wanted.items()})

    async def m_start(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._sv(self.programs.start, _name(params))

    async def m_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._sv(self.programs.stop, _name(params))

    async def m_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._sv(self.programs.remove, _name(params))

    async def m_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._sv(self.programs.rows)

    async def watch(self) -> None:
        """Look at supervisord's programs once a beat, for the next heartbeat."""
        while not self._stop.is_set():
            with contextlib.suppress(RequestError):
                await self._sv(self.programs.rows)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), HEARTBEAT_INTERVAL)

    def beat_info(self) -> dict[str, Any]:
        """A beat before the first look at supervisord carries no programs (an empty list
        would tell the manager that none of this host's strategies exists)."""
        return {"host": self.host, "supervisor_up": self.supervisor_up,
                **({"programs": self.rows} if self.rows is not None else {})}

    async def run(self) -> None:
        install_stop_handlers(self._stop)
        logging.getLogger().addHandler(BusLogHandler(self.publisher, process_name(self.host)))
        heartbeater = Heartbeater(self.publisher, process_name(self.host), self.beat_info)
        with contextlib.suppress(RequestError):  # the first beat already says what runs
            await self._sv(self.programs.rows)
        tasks = [asyncio.create_task(self.service.run(), name="service"),
                 asyncio.create_task(self.watch(), name="watch"),
                 asyncio.create_task(heartbeater.run(), name="heartbeat")]
        log.info("agent of host %s up (pid %d), dialing %s", self.host, os.getpid(),
                 self.cfg.endpoints.agents)
        await self._stop.wait()
        self.service.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.publisher.close()
        self._pool.shutdown(wait=False)
        log.info("agent of host %s stopped", self.host)


def main(argv: list[str] | None = None) -> None:
    service_main("ats-agent", __doc__, Agent, argv)
