"""Services that dial out, and the switchboard they dial.

A ``Service`` binds a ROUTER and clients connect to it. A ``DialingService`` turns that round:
its DEALER connects to a ``Switchboard`` (a ROUTER the requesting side binds) under a stable
identity, and the switchboard sends it requests by that identity. A process on another host
serves requests this way without a port of its own, as a plain bus client: over CURVE it
authenticates with the keys and the allow-list every other client uses.

The wire is the service's: one request envelope, one reply envelope, the same error codes,
and the reply cache that answers a repeated request id without running the handler again.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import time
import uuid
from typing import Any

import zmq
import zmq.asyncio

from bus.client import parse_reply
from bus.codec import Envelope, encode
from bus.errors import Code, CodecError, RequestError, RequestTimeout
from bus.security import secure_client
from bus.service import HARD_MAX_MSG_BYTES, REQUEST_TYPE, Service, bound_router, request_body

#: the routing id a dialing service files its one peer's requests under (for its reply cache)
SWITCHBOARD_PEER = b"switchboard"
#: a dialer whose switchboard went away tries again at most this often (ms)
RECONNECT_MAX_MS = 2000


class DialingService(Service):
    """A ``Service`` whose DEALER connects to ``endpoint`` (a ``Switchboard``) as ``identity``."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, name: str,
                 identity: str) -> None:
        super().__init__(ctx, endpoint, name)
        self.identity = identity

    def bind(self) -> None:
        """Connect (the name is the base class's: ``run`` calls it)."""
        if self._sock is not None:
            return
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTING_ID, self.identity.encode())
        sock.setsockopt(zmq.MAXMSGSIZE, HARD_MAX_MSG_BYTES)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
        secure_client(sock)
        sock.connect(self.endpoint)
        self._sock = sock
        self._sync_sock = zmq.Socket.shadow(sock.underlying)

    def _dispatch(self, frames: list[bytes]) -> None:
        # a DEALER receives the bare payload: file it under the one peer it has
        super()._dispatch([SWITCHBOARD_PEER, *frames])

    def _send(self, envelope: list[bytes], data: bytes) -> None:
        super()._send([], data)  # a DEALER's reply carries no routing part


class Switchboard:
    """A bound ROUTER that sends requests to the dialing services connected to it, each by its
    identity. A request to an identity that is not connected fails at once (UNREACHABLE); one
    that gets no reply within its timeout raises RequestTimeout."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, name: str,
                 timeout: float = 10.0) -> None:
        self.endpoint, self.name, self.timeout = endpoint, name, timeout
        self._ctx = ctx
        self._sock: zmq.asyncio.Socket | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._client = f"{name}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._stopping = asyncio.Event()

    def bind(self) -> None:
        if self._sock is not None:
            return
        self._sock = bound_router(self._ctx, self.endpoint)

    async def request(self, peer: str, method: str, params: dict[str, Any] | None = None,
                      timeout: float | None = None) -> Any:
        self.bind()
        assert self._sock is not None
        req_id = f"{self._client}:{next(self._ids)}"
        self._seq += 1
        data = encode(Envelope(REQUEST_TYPE, self._client, self._seq, time.time(),
                               request_body(req_id, method, params)))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            try:
                await self._sock.send_multipart([peer.encode(), data], flags=zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                if exc.errno in (errno.EHOSTUNREACH, zmq.EAGAIN):
                    raise RequestError(Code.UNREACHABLE,
                                       f"{peer} is not connected to {self.endpoint}") from exc
                raise
            wait = self.timeout if timeout is None else timeout
            try:
                return await asyncio.wait_for(fut, wait)
            except TimeoutError as exc:
                raise RequestTimeout(f"{peer} did not answer {method!r} within {wait:g}s",
                                     {"peer": peer, "method": method}) from exc
        finally:
            self._pending.pop(req_id, None)

    async def run(self) -> None:
        """Read replies until ``stop()``."""
        self.bind()
        sock = self._sock
        assert sock is not None
        try:
            while not self._stopping.is_set():
                frames = await sock.recv_multipart()
                if len(frames) != 2:
                    continue
                try:
                    rid, result, err = parse_reply(frames[1])
                except CodecError:
                    continue
                fut = self._pending.get(rid)
                if fut is None or fut.done():
                    continue  # a late reply, or one to a request of an earlier run
                if err is not None:
                    fut.set_exception(err)
                else:
                    fut.set_result(result)
        finally:
            sock.close(linger=0)
            self._sock = None

    def stop(self) -> None:
        self._stopping.set()
