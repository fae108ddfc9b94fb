"""Request clients for a ``Service``: ``Requester`` (blocking, for the CLI) and
``AsyncRequester`` (asyncio, many concurrent requests matched by id).

Both use a DEALER with ZMQ_IMMEDIATE so requests are never queued towards a peer that is
not connected (a dead service must not run a stale request when it comes back), and a
stable identity so that a retried request (same id) is answered from the service's
reply cache instead of being run twice.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import zmq
import zmq.asyncio

from bus.codec import Envelope, decode, encode
from bus.errors import Code, CodecError, RequestError, RequestTimeout
from bus.security import secure_client
from bus.service import REPLY_TYPE, REQUEST_TYPE, request_body


class _Core:
    def __init__(self, endpoint: str, identity: str | None, timeout: float, retries: int) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self.client_id = identity or f"c-{uuid.uuid4().hex[:12]}"
        self._identity = self.client_id.encode()
        self._ids = itertools.count(1)
        self._seq = 0

    def _next_id(self) -> str:
        return f"{self.client_id}:{next(self._ids)}"

    def _encode(self, req_id: str, method: str, params: dict[str, Any] | None) -> bytes:
        self._seq += 1
        return encode(
            Envelope(REQUEST_TYPE, self.client_id, self._seq, time.time(),
                     request_body(req_id, method, params))
        )

    def _prepare(self, method: str, params: dict[str, Any] | None, timeout: float | None,
                 retries: int | None) -> tuple[str, bytes, float, int]:
        """One request's id, frame, per-attempt timeout and attempt count (a retry resends
        the same id, so the service answers it from its reply cache)."""
        req_id = self._next_id()
        return (req_id, self._encode(req_id, method, params),
                self.timeout if timeout is None else timeout,
                1 + (self.retries if retries is None else retries))

    def _setup(self, sock: zmq.Socket[Any]) -> None:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.ROUTING_ID, self._identity)
        secure_client(sock)
        sock.connect(self.endpoint)

    def _timeout_error(self, method: str, waited: float, attempts: int) -> RequestTimeout:
        return RequestTimeout(
            f"service unreachable at {self.endpoint}: no reply to {method!r} "
            f"within {waited:.1f}s ({attempts} attempt{'s' if attempts > 1 else ''})",
            {"endpoint": self.endpoint, "method": method},
        )


def parse_reply(data: bytes) -> tuple[str, Any, RequestError | None]:
    """Return ``(id, result, error)`` from a reply frame; raise CodecError if malformed."""
    env = decode(data)
    body = env.body
    req_id = body.get("id")
    ok = body.get("ok")
    if env.type != REPLY_TYPE or not isinstance(req_id, str) or not isinstance(ok, bool):
        raise CodecError(Code.BAD_FRAME, "not a reply envelope")
    if ok:
        return req_id, body.get("result"), None
    return req_id, None, RequestError.from_wire(body.get("error"))


class Requester:
    """Blocking request/reply client (lazy pirate: a timed-out socket is recreated)."""

    def __init__(
        self,
        ctx: zmq.Context[Any],
        endpoint: str,
        identity: str | None = None,
        timeout: float = 3.0,
        *,
        retries: int = 0,
    ) -> None:
        self._core = _Core(endpoint, identity, timeout, retries)
        self._ctx = ctx
        self._sock: zmq.Socket[Any] | None = None

    @property
    def endpoint(self) -> str:
        return self._core.endpoint

    def _socket(self) -> zmq.Socket[Any]:
        if self._sock is None:
            self._sock = self._ctx.socket(zmq.DEALER, socket_class=zmq.Socket)
            self._core._setup(self._sock)
        return self._sock

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    @staticmethod
    def _send(sock: zmq.Socket[Any], data: bytes, timeout: float) -> bool:
        try:
            sock.send(data, flags=zmq.NOBLOCK)
            return True
        except zmq.Again:
            pass
        # With IMMEDIATE, EAGAIN means no connection yet; POLLOUT says when one is up.
        if sock.poll(int(timeout * 1000), zmq.POLLOUT):
            sock.send(data, flags=zmq.NOBLOCK)
            return True
        return False

    def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        *,
        retries: int | None = None,
    ) -> Any:
        """Call ``method``; return its result or raise RequestError / RequestTimeout."""
        core = self._core
        req_id, data, timeout, attempts = core._prepare(method, params, timeout, retries)
        for _ in range(attempts):
            sock = self._socket()
            deadline = time.monotonic() + timeout
            if self._send(sock, data, timeout):
                while (left := deadline - time.monotonic()) > 0:
                    if not sock.poll(max(1, int(left * 1000)), zmq.POLLIN):
                        break
                    try:
                        rid, result, err = parse_reply(sock.recv())
                    except CodecError:
                        continue
                    if rid != req_id:
                        continue  # a late reply to an earlier request
                    if err is not None:
                        raise err
                    return result
            self._reset()
        raise core._timeout_error(method, timeout * attempts, attempts)

    def close(self) -> None:
        self._reset()

    def __enter__(self) -> Requester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRequester:
    """asyncio client; several tasks may ``await request(...)`` at once."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        identity: str | None = None,
        timeout: float = 3.0,
        *,
        retries: int = 0,
    ) -> None:
        self._core = _Core(endpoint, identity, timeout, retries)
        self._ctx = ctx
        self._sock: zmq.asyncio.Socket | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.bad_replies = 0

    @property
    def endpoint(self) -> str:
        return self._core.endpoint

    def _socket(self) -> zmq.asyncio.Socket:
        if self._sock is None:
            self._sock = self._ctx.socket(zmq.DEALER)
            self._core._setup(self._sock)
            self._reader = asyncio.ensure_future(self._read(self._sock))
        return self._sock

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            data = await sock.recv()
            try:
                rid, result, err = parse_reply(data)
            except CodecError:
                self.bad_replies += 1
                continue
            fut = self._pending.get(rid)
            if fut is None or fut.done():
                continue
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(result)

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        *,
        retries: int | None = None,
    ) -> Any:
        core = self._core
        req_id, data, timeout, attempts = core._prepare(method, params, timeout, retries)
        loop = asyncio.get_running_loop()
        for _ in range(attempts):
            sock = self._socket()
            deadline = loop.time() + timeout
            fut: asyncio.Future[Any] = loop.create_future()
            self._pending[req_id] = fut
            try:
                while True:
                    try:
                        # Send through the asyncio socket: a send on a shadow socket would
                        # consume the edge-triggered wake-up the pending recv() waits for.
                        await sock.send(data, flags=zmq.NOBLOCK)
                        break
                    except zmq.Again:  # no connection yet (IMMEDIATE): wait for one
                        left = deadline - loop.time()
                        if left <= 0:
                            raise TimeoutError from None
                        # pyzmq's stub for the async poll lacks ``flags``
                        polled = await sock.poll(  # type: ignore[call-arg]
                            max(1, int(left * 1000)), zmq.POLLOUT
                        )
                        if not polled:
                            raise TimeoutError from None
                return await asyncio.wait_for(fut, max(0.0, deadline - loop.time()))
            except TimeoutError:
                continue
            finally:
                self._pending.pop(req_id, None)
        raise core._timeout_error(method, timeout * attempts, attempts)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._sock is not None:
            self._sock.close(linger=0)
        self._sock = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RequestError(Code.UNREACHABLE, "requester closed"))
        self._pending.clear()
