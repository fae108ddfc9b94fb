"""One API client's connection: the handshake, framing, message pacing and its subscriptions.

The server creates one `Session` per accepted socket. Once startApi makes it "ready", each
request frame goes to `handlers.dispatch`; what it sends back is batched into one write per
loop pass.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from typing import TYPE_CHECKING

from ats.sim import SERVER_VERSION, handlers
from ats.sim import messages as M
from ats.sim.protocol import HANDSHAKE_PREFIX, FrameReader, ProtocolError, frame, split_fields
from ats.sim.subscriptions import BarSub, DepthSub, MktSub, TickByTickSub
from ats.sim.versions import MAX_VERSION, MIN_VERSION, negotiate

if TYPE_CHECKING:
    from ats.sim.server import Server

log = logging.getLogger("ats.sim.session")


class Session(asyncio.Protocol):
    """One API client connection."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.reader = FrameReader()
        self.stage = "prefix"  #: prefix -> version -> start -> ready -> closed
        self.client_id: int | None = None
        self.version = SERVER_VERSION  #: negotiated in the handshake; layouts follow it
        self.peer = ""
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._times: collections.deque[float] = collections.deque()
        self._pacing_warned = 0.0
        self.mkt: dict[int, MktSub] = {}  #: req id -> reqMktData
        self.tbt: dict[int, TickByTickSub] = {}  #: req id -> reqTickByTickData
        self.depth: dict[int, DepthSub] = {}  #: req id -> reqMktDepth
        self.bars: dict[int, BarSub] = {}  #: req id -> real-time bars or keepUpToDate
        self.account_updates: str | None = None  #: the account reqAccountUpdates follows
        self.positions_sub = False
        self.pnl: dict[int, str] = {}  #: req id -> account
        self.pnl_single: dict[int, tuple[str, int]] = {}  #: req id -> (account, con id)
        self.held: list[list[str]] = []  #: requests received during an outage

    # ---- transport ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stage = "closed"
        self.server.forget(self)
        log.info("client %s disconnected (%s)", self.client_id, self.peer)

    def send(self, fields: list[object]) -> None:
        if self.stage == "closed" or self.transport is None:
            return
        self._out.append(frame(fields))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(M.error(req_id, code, text, self.version))

    def close(self) -> None:
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ---- inbound --------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        try:
            if self.stage == "prefix":
                self.reader._buf += data
                ok = self.reader.take_prefix(HANDSHAKE_PREFIX)
                if ok is None:
                    return
                if not ok:
                    raise ProtocolError("connection did not start with API\\0")
                self.stage = "version"
                data = b""
            for payload in self.reader.feed(data):
                self._on_frame(payload)
        except ProtocolError as exc:
            log.warning("client %s (%s) protocol error: %s; closing", self.client_id,
                        self.peer, exc)
            self.abort()

    def _on_frame(self, payload: bytes) -> None:
        if self.stage == "version":
            self._handshake(payload.decode(errors="replace"))
            return
        fields = split_fields(payload)
        if not fields:
            return
        if self.stage == "start":
            if fields[0] != "71":
                raise ProtocolError(f"expected startApi, got message {fields[0]!r}")
            try:
                client_id = int(fields[2])
            except (IndexError, ValueError):
                raise ProtocolError(f"bad startApi fields {fields!r}") from None
            self.server.start_api(self, client_id)
            return
        if self.stage != "ready":
            return
        if not self._pace():
            return
        if self.server.outage:
            self.held.append(fields)
            return
        handlers.dispatch(self.server, self, fields)

    def _handshake(self, text: str) -> None:
        hs = negotiate(text)
        if hs is None:
            raise ProtocolError(f"bad version string {text!r}")
        now = time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime())
        self.version = hs.version
        self.send([hs.version, now])
        if not hs.accepted:
            # What a Gateway does: answer its own version, which the client refuses.
            log.warning("client %s offers v%d..%d, outside v%d..%d: refused", self.peer,
                        hs.client_min, hs.client_max, MIN_VERSION, MAX_VERSION)
            self.stage = "closed"
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        log.info("handshake from %s: %s -> server version %d", self.peer, text, hs.version)
        self.stage = "start"

    def _pace(self) -> bool:
        limit = self.server.config.max_msg_rate
        if limit <= 0:
            return True
        now = time.monotonic()
        times = self._times
        while times and now - times[0] >= 1.0:
            times.popleft()
        if len(times) >= limit:
            if now - self._pacing_warned >= 1.0:
                self._pacing_warned = now
                log.warning("client %s exceeded %d msg/s", self.client_id, limit)
                self.error(-1, 100, f"Max rate of messages per second has been exceeded:"
                                    f"max={limit} rec={len(times) + 1} (1)")
            return False
        times.append(now)
        return True
