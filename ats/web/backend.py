"""Requests to the manager and the broker: the same ROUTER methods ats-ctl calls, nothing else.

A refusal keeps the service's stable code and message (the ones ats-ctl prints), and maps to
an HTTP status through one table.
"""

from __future__ import annotations

from typing import Any, Protocol

import zmq.asyncio

from ats.errors import Code as AtsCode
from bus.client import AsyncRequester
from bus.endpoints import Endpoints
from bus.errors import Code as BusCode
from bus.errors import RequestError

#: the services the console may ask
SERVICES = ("manager", "broker")
#: seconds a request may take (start, stop and halt with flatten wait for supervisord/venue)
DEFAULT_TIMEOUT = 10.0
SLOW_TIMEOUT = 30.0

#: a service's error code -> HTTP status (anything else: 502)
HTTP_STATUS: dict[str, int] = {
    AtsCode.UNKNOWN_STRATEGY: 404,
    AtsCode.BAD_PARAMS: 422,
    BusCode.BAD_REQUEST: 400,
    AtsCode.BAD_NAME: 400,
    AtsCode.ALREADY_RUNNING: 409,
    AtsCode.NOT_RUNNING: 409,
    AtsCode.DISABLED: 409,
    AtsCode.HALTED: 409,
    AtsCode.RISK_REJECTED: 409,
    AtsCode.NO_ACK: 504,
    BusCode.TIMEOUT: 503,
    BusCode.UNREACHABLE: 503,
    AtsCode.SUPERVISOR_DOWN: 503,
    AtsCode.DISCONNECTED: 503,
}


def http_status(code: str) -> int:
    return HTTP_STATUS.get(code, 502)


class Backend(Protocol):
    async def call(self, service: str, method: str, params: dict[str, Any] | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> Any:
        """The service's result, or RequestError with its code and message."""

    def close(self) -> None: ...


class BusBackend:
    """One AsyncRequester per service, made on first use."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoints: Endpoints) -> None:
        self.ctx, self.endpoints = ctx, endpoints
        self._requesters: dict[str, AsyncRequester] = {}

    async def call(self, service: str, method: str, params: dict[str, Any] | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> Any:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        req = self._requesters.get(service)
        if req is None:
            req = AsyncRequester(self.ctx, getattr(self.endpoints, service), timeout=timeout)
            self._requesters[service] = req
        try:
            return await req.request(method, params or {}, timeout=timeout)
        except RequestError:
            raise
        except Exception as exc:  # a socket error: report it like an unreachable service
            raise RequestError(BusCode.UNREACHABLE, f"the {service} is unreachable: {exc}") \
                from exc

    def close(self) -> None:
        for req in self._requesters.values():
            req.close()
        self._requesters.clear()
