"""Subscribers: decode ``[topic, envelope]`` frames, drop malformed ones, detect gaps."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio

from bus.codec import Envelope, decode
from bus.errors import CodecError
from bus.security import secure_client

log = logging.getLogger(__name__)

DEFAULT_RCVHWM = 1_000_000
_NOBLOCK = int(zmq.NOBLOCK)  # an int: pyzmq's enum flags cost more to pass around
_LOG_FIRST_N = 10
_LOG_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages ``expected .. got-1`` of ``source``'s ``topic`` stream never arrived."""

    source: str
    expected: int
    got: int
    topic: str = ""


class GapTracker:
    """Tracks the last seq per (source, topic) stream and records gaps.

    The first message seen on a stream starts it (late joiners see no gap). A seq lower
    than expected means the publisher restarted: the stream restarts, no gap is raised.
    """

    def __init__(self, on_gap: Callable[[Gap], None] | None = None, *, keep: int = 1000) -> None:
        self.gaps: list[Gap] = []
        self.gap_count = 0
        self.on_gap = on_gap
        self._keep = keep
        self._last: dict[tuple[str, str], int] = {}

    def see(self, topic: str, env: Envelope) -> Gap | None:
        key = (env.source, topic)
        last = self._last.get(key)
        self._last[key] = env.seq
        if last is None or env.seq == last + 1:
            return None
        if env.seq <= last:
            log.info("stream %s/%s restarted at seq %d (was %d)", env.source, topic, env.seq, last)
            return None
        gap = Gap(env.source, last + 1, env.seq, topic)
        self.gap_count += 1
        self.gaps.append(gap)
        if len(self.gaps) > self._keep:
            del self.gaps[: len(self.gaps) - self._keep]
        log.warning(
            "gap from %s on %r: expected seq %d, got %d (%d lost)",
            env.source, topic, gap.expected, gap.got, gap.got - gap.expected,
        )
        if self.on_gap is not None:
            try:
                self.on_gap(gap)
            except Exception:
                log.exception("on_gap callback failed")
        return gap


class _Base:
    def __init__(self, on_gap: Callable[[Gap], None] | None) -> None:
        self.bad_frames = 0
        self.received = 0
        self._tracker = GapTracker(on_gap)

    @property
    def gaps(self) -> list[Gap]:
        return self._tracker.gaps

    @property
    def on_gap(self) -> Callable[[Gap], None] | None:
        return self._tracker.on_gap

    @on_gap.setter
    def on_gap(self, cb: Callable[[Gap], None] | None) -> None:
        self._tracker.on_gap = cb

    def _take(self, recv: Callable[..., zmq.Frame]) -> tuple[str, Envelope] | None:
        """Receive the next message through ``recv`` (a socket's; raises zmq.Again when none
        is waiting) and handle it: as ``recv_multipart`` receives it, but with each frame's
        ``more`` read from the frame, not asked of the socket (a getsockopt per frame in
        pyzmq, half of the cost of receiving a message)."""
        first = recv(_NOBLOCK, copy=False)  # the rest of a message is there with its first
        if not first.more:
            return self._handle([first.bytes])
        second = recv(_NOBLOCK, copy=False)
        if not second.more:
            return self._handle_pair(first.bytes, second.bytes)
        frames = [first.bytes, second.bytes]
        more = True
        while more:
            frame = recv(_NOBLOCK, copy=False)
            frames.append(frame.bytes)
            more = frame.more
        return self._handle(frames)

    def _handle(self, frames: list[bytes]) -> tuple[str, Envelope] | None:
        if len(frames) != 2:
            self._bad(CodecError("BAD_FRAME", f"{len(frames)} frames, want [topic, envelope]"))
            return None
        return self._handle_pair(frames[0], frames[1])

    def _handle_pair(self, topic_frame: bytes, data: bytes) -> tuple[str, Envelope] | None:
        try:
            topic = topic_frame.decode()
            env = decode(data)
        except (CodecError, UnicodeDecodeError) as exc:
            self._bad(exc)
            return None
        self.received += 1
        self._tracker.see(topic, env)
        return topic, env

    def _bad(self, exc: Exception) -> None:
        self.bad_frames += 1
        if self.bad_frames <= _LOG_FIRST_N or self.bad_frames % _LOG_EVERY == 0:
            log.warning("dropped malformed bus frame (%d so far): %s", self.bad_frames, exc)


def _setup(sock: zmq.Socket[Any], endpoint: str, prefixes: Sequence[str], hwm: int) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVHWM, hwm)
    secure_client(sock)
    sock.connect(endpoint)
    for p in prefixes:
        sock.setsockopt(zmq.SUBSCRIBE, p.encode())


class Subscriber(_Base):
    """asyncio subscriber. ``prefixes`` come from ``bus.topics`` (``""`` = everything)."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        endpoint: str,
        prefixes: Sequence[str] = ("",),
        *,
        on_gap: Callable[[Gap], None] | None = None,
        hwm: int = DEFAULT_RCVHWM,
    ) -> None:
        super().__init__(on_gap)
        self.endpoint = endpoint
        self._sock: zmq.asyncio.Socket = ctx.socket(zmq.SUB)
        _setup(self._sock, endpoint, prefixes, hwm)
        self._sync_sock: zmq.Socket[Any] = zmq.Socket.shadow(self._sock.underlying)
        # bound once: pyzmq's sockets answer attribute lookups through a __getattr__ hook
        self._recv = self._sync_sock.recv

    def subscribe(self, prefix: str) -> None:
        self._sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())

    def unsubscribe(self, prefix: str) -> None:
        self._sock.setsockopt(zmq.UNSUBSCRIBE, prefix.encode())

    async def recv(self, timeout: float | None = None) -> tuple[str, Envelope] | None:
        """Next good message, or None after ``timeout`` seconds (None = wait forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                msg = self._take(self._recv)
            except zmq.Again:
                if deadline is None:
                    wait_ms = None
                else:
                    wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
                if not await self._sock.poll(wait_ms):
                    return None
                continue
            if msg is not None:
                return msg
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def __aiter__(self) -> AsyncIterator[tuple[str, Envelope]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[tuple[str, Envelope]]:
        while True:
            msg = await self.recv(None)
            if msg is not None:
                yield msg

    def close(self) -> None:
        self._sock.close(linger=0)


class SyncSubscriber(_Base):
    """Blocking subscriber with the same ``recv`` (for the CLI ``tail``)."""

    def __init__(
        self,
        ctx: zmq.Context[Any],
        endpoint: str,
        prefixes: Sequence[str] = ("",),
        *,
        on_gap: Callable[[Gap], None] | None = None,
        hwm: int = DEFAULT_RCVHWM,
    ) -> None:
        super().__init__(on_gap)
        self.endpoint = endpoint
        self._sock: zmq.Socket[Any] = ctx.socket(zmq.SUB, socket_class=zmq.Socket)
        _setup(self._sock, endpoint, prefixes, hwm)
        self._recv = self._sock.recv  # bound once, as in Subscriber

    def subscribe(self, prefix: str) -> None:
        self._sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())

    def unsubscribe(self, prefix: str) -> None:
        self._sock.setsockopt(zmq.UNSUBSCRIBE, prefix.encode())

    def recv(self, timeout: float | None = None) -> tuple[str, Envelope] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                msg = self._take(self._recv)
            except zmq.Again:
                pass
            else:
                if msg is not None:
                    return msg
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            if deadline is None:
                wait_ms = None
            else:
                wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
            # poll in slices so Ctrl-C is honoured promptly in the CLI
            if not self._sock.poll(200 if wait_ms is None else min(wait_ms, 200), zmq.POLLIN):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            try:
                msg = self._take(self._recv)
            except zmq.Again:  # polled in, but gone
                continue
            if msg is not None:
                return msg

    def __iter__(self) -> SyncSubscriber:
        return self

    def __next__(self) -> tuple[str, Envelope]:
        msg = self.recv(None)
        assert msg is not None
        return msg

    def close(self) -> None:
        self._sock.close(linger=0)
