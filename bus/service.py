"""asyncio ROUTER service base: one request envelope, one reply envelope, stable error codes.

Wire: a DEALER sends one frame (or ``[b"", frame]`` from a REQ socket), an Envelope with
``type="req"`` and body ``{"id": str, "method": str, "params": dict}``. The reply is an
Envelope with ``type="rep"`` and body ``{"id", "ok": True, "result"}`` or
``{"id", "ok": False, "error": {"code", "message", "data"}}``. A repeated request id from
the same peer gets the stored reply without running the handler again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
import zmq.asyncio

from bus.codec import MAX_FRAME_BYTES, Envelope, decode, encode
from bus.errors import Code, CodecError, RequestError
from bus.security import secure_server

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any] | Any]

REQUEST_TYPE = "req"
REPLY_TYPE = "rep"
#: above this the peer is disconnected by libzmq; between MAX_FRAME_BYTES and this it
#: gets a TOO_LARGE reply
HARD_MAX_MSG_BYTES = 4 * MAX_FRAME_BYTES
REPLY_CACHE_SIZE = 10_000
_MAX_ID_LEN = 256
_LOG_FIRST_N = 20
_LOG_EVERY = 1000


def request_body(req_id: str, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": req_id, "method": method, "params": params or {}}


def ok_body(req_id: str, result: Any) -> dict[str, Any]:
    return {"id": req_id, "ok": True, "result": result}


def error_body(req_id: str, err: RequestError) -> dict[str, Any]:
    return {"id": req_id, "ok": False, "error": err.to_wire()}


def bound_router(ctx: zmq.asyncio.Context, endpoint: str) -> zmq.asyncio.Socket:
    """A ROUTER bound to ``endpoint`` (CURVE server where the bus is secured) that answers
    peers by identity; a peer that reconnects with the same identity (lazy pirate, a dialer)
    takes its place."""
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
    sock.setsockopt(zmq.MAXMSGSIZE, HARD_MAX_MSG_BYTES)
    try:
        secure_server(sock)
        sock.bind(endpoint)
    except zmq.ZMQError:
        sock.close(linger=0)
        raise
    return sock


class Service:
    """Subclass or compose: ``register`` handlers, then ``await run()`` until ``stop()``.

    ``stats`` counts requests, replies, duplicates, errors by code and unroutable replies.
    """

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        name: str,
        *,
        cache_size: int = REPLY_CACHE_SIZE,
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.stats: Counter[str] = Counter()
        self._ctx = ctx
        self._handlers: dict[str, Handler] = {"ping": self._ping}
        self._cache: OrderedDict[tuple[bytes, str], bytes | None] = OrderedDict()
        self._cache_size = cache_size
        self._seq = 0
        self._started = time.time()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sock: zmq.asyncio.Socket | None = None
        self._sync_sock: zmq.Socket[Any] | None = None  # same socket, for NOBLOCK I/O
        self._recv: asyncio.Future[list[bytes]] | None = None
        self._bad_logged = 0

    # -- registration -------------------------------------------------------------
    def register(self, method: str, handler: Handler) -> None:
        if not method or not isinstance(method, str):
            raise ValueError(f"bad method name {method!r}")
        self._handlers[method] = handler

    @property
    def methods(self) -> list[str]:
        return sorted(self._handlers)

    async def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"name": self.name, "pid": os.getpid(), "uptime": time.time() - self._started}

    # -- lifecycle ------------------------------------------------------------------
    def bind(self) -> None:
        """Bind now (``run`` binds if needed); lets callers know the socket is ready."""
        if self._sock is not None:
            return
        sock = self._sock = bound_router(self._ctx, self.endpoint)
        self._sync_sock = zmq.Socket.shadow(sock.underlying)

    def stop(self) -> None:
        """Make ``run()`` return; call from the service's event loop thread."""
        self._stopping.set()
        if self._recv is not None and not self._recv.done():
            self._recv.cancel()

    async def run(self) -> None:
        self.bind()
        sock, sync = self._sock, self._sync_sock
        assert sock is not None and sync is not None
        log.info("service %s listening on %s", self.name, self.endpoint)
        try:
            while not self._stopping.is_set():
                try:
                    frames = sync.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    recv = asyncio.ensure_future(sock.recv_multipart())
                    self._recv = recv
                    try:
                        frames = await recv
                    except asyncio.CancelledError:
                        if self._stopping.is_set():
                            break
                        raise
                    finally:
                        self._recv = None
                self._dispatch(frames)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            sock.close(linger=0)
            self._sock = None
            self._sync_sock = None
            log.info("service %s stopped", self.name)

    # -- request handling -----------------------------------------------------------
    def _dispatch(self, frames: list[bytes]) -> None:
        self.stats["frames"] += 1
        if len(frames) < 2 or not frames[0]:
            self._bad("no routing id", frames)
            return
        peer = frames[0]
        # DEALER sends [payload]; REQ sends ["", payload]. Anything else is malformed.
        if len(frames) == 2:
            envelope: list[bytes] = [peer]
            payload = frames[1]
        elif len(frames) == 3 and frames[1] == b"":
            envelope = [peer, b""]
            payload = frames[2]
        else:
            self._reply_error(envelope_of(frames), "", Code.BAD_FRAME, f"{len(frames)} frames")
            self._bad("unexpected frame count", frames)
            return
        try:
            env = decode(payload)
        except CodecError as exc:
            self._bad(exc.message, frames)
            self._reply_error(envelope, "", exc.code, exc.message)
            return
        body = env.body
        req_id = body.get("id")
        if not isinstance(req_id, str) or not req_id or len(req_id) > _MAX_ID_LEN:
            self._reply_error(envelope, "", Code.BAD_REQUEST, "request id missing or invalid")
            self.stats[Code.BAD_REQUEST] += 1
            return
        method = body.get("method")
        params = body.get("params", {})
        if env.type != REQUEST_TYPE or not isinstance(method, str) or not isinstance(params, dict):
            self._reply_error(
                envelope, req_id, Code.BAD_REQUEST,
                "want type 'req' and body {id: str, method: str, params: map}",
            )
            self.stats[Code.BAD_REQUEST] += 1
            return
        key = (peer, req_id)
        if key in self._cache:
            self.stats["duplicates"] += 1
            self._cache.move_to_end(key)
            cached = self._cache[key]
            if cached is not None:  # None: first copy still running; its reply will come
                self._send(envelope, cached)
            return
        self.stats["requests"] += 1
        handler = self._handlers.get(method)
        if handler is None:
            self._finish(envelope, key, error_body(req_id, RequestError(
                Code.UNKNOWN_METHOD, f"{self.name} has no method {method!r}",
                {"methods": self.methods},
            )))
            return
        self._remember(key, None)
        try:
            result = handler(params)
        except Exception as exc:
            self._finish(envelope, key, self._failure(method, exc, req_id))
            return
        if not inspect.isawaitable(result):
            self._finish(envelope, key, ok_body(req_id, result))
            return
        task = asyncio.ensure_future(self._await(envelope, key, method, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await(
        self, envelope: list[bytes], key: tuple[bytes, str], method: str, pending: Awaitable[Any]
    ) -> None:
        try:
            body = ok_body(key[1], await pending)
        except asyncio.CancelledError:
            self._cache.pop(key, None)
            raise
        except Exception as exc:
            body = self._failure(method, exc, key[1])
        self._finish(envelope, key, body)

    def _failure(self, method: str, exc: Exception, req_id: str | None = None) -> dict[str, Any]:
        if isinstance(exc, RequestError):
            err = exc
        else:
            log.error("%s: handler for %r failed", self.name, method, exc_info=exc)
            err = RequestError(Code.INTERNAL, f"{type(exc).__name__}: {exc}")
        return error_body(req_id or "", err)

    def _finish(self, envelope: list[bytes], key: tuple[bytes, str], body: dict[str, Any]) -> None:
        if not body["ok"]:
            self.stats["error." + body["error"]["code"]] += 1
        try:
            data = self._encode(body)
        except CodecError as exc:
            log.error("%s: reply to %r cannot be encoded: %s", self.name, key[1], exc)
            data = self._encode(error_body(key[1], RequestError(
                Code.INTERNAL, f"reply cannot be encoded: {exc.message}")))
        self._remember(key, data)
        self._send(envelope, data)

    def _remember(self, key: tuple[bytes, str], data: bytes | None) -> None:
        self._cache[key] = data
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _encode(self, body: dict[str, Any]) -> bytes:
        self._seq += 1
        return encode(Envelope(REPLY_TYPE, self.name, self._seq, time.time(), body))

    def _reply_error(self, envelope: list[bytes], req_id: str, code: str, message: str) -> None:
        self.stats["error." + code] += 1
        if not envelope or not envelope[0]:
            return
        self._send(envelope, self._encode(error_body(req_id, RequestError(code, message))))

    def _send(self, envelope: list[bytes], data: bytes) -> None:
        if self._sync_sock is None:
            return
        try:
            self._sync_sock.send_multipart([*envelope, data], flags=zmq.NOBLOCK)
            self.stats["replies"] += 1
        except zmq.ZMQError as exc:  # EHOSTUNREACH (peer gone) or EAGAIN (peer not reading)
            self.stats["unroutable"] += 1
            log.info("%s: reply not delivered: %s", self.name, exc)

    def _bad(self, why: str, frames: list[bytes]) -> None:
        self.stats["bad_frames"] += 1
        self._bad_logged += 1
        if self._bad_logged <= _LOG_FIRST_N or self._bad_logged % _LOG_EVERY == 0:
            size = sum(len(f) for f in frames)
            log.warning(
                "%s: bad request frame (%d so far, %d bytes): %s",
                self.name, self.stats["bad_frames"], size, why,
            )


def envelope_of(frames: list[bytes]) -> list[bytes]:
    """Routing part for a reply to a malformed multi-frame message: just the peer id."""
    return [frames[0]] if frames and frames[0] else []
