"""The bus hub: an XSUB/XPUB forwarder (``python -m bus.hub --frontend EP --backend EP``).

Publishers connect to the frontend (XSUB), subscribers to the backend (XPUB). The hub never
decodes: malformed frames pass through and subscribers drop them. A message larger than
MAX_FRAME_BYTES (+ topic headroom) makes libzmq drop that publisher's connection
(ZMQ_MAXMSGSIZE); the publisher reconnects and the hub stays up. HWMs are 1,000,000 so the
hub is lossless under normal load; a subscriber that stops reading loses messages beyond
that (it sees the gap) instead of blocking everybody.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Any

import zmq

from bus import security, topics
from bus.codec import MAX_FRAME_BYTES
from bus.heartbeat import HEARTBEAT_INTERVAL, HEARTBEAT_TYPE
from bus.publisher import Publisher

log = logging.getLogger(__name__)

HUB_HWM = 1_000_000
MAX_TOPIC_BYTES = 1024
#: ZMQ_MAXMSGSIZE applies per frame; a subscription frame is tiny
MAX_SUBSCRIPTION_BYTES = 64 * 1024
#: every bus message is two frames: its topic and its envelope (bus.publisher)
FRAMES_PER_MESSAGE = 2
#: the process name the hub beats as
HUB_PROCESS = "bus"
#: the proxy's answer to STATISTICS: eight counters, frontend then backend
STAT_FIELDS = ("frontend_frames_in", "frontend_bytes_in", "frontend_frames_out",
               "frontend_bytes_out", "backend_frames_in", "backend_bytes_in",
               "backend_frames_out", "backend_bytes_out")
#: seconds statistics() waits for the proxy's answer
STATISTICS_TIMEOUT = 1.0


def traffic(stats: dict[str, int]) -> dict[str, int]:
    """The bus's traffic from the proxy's counters: messages and bytes published (in, at the
    frontend) and forwarded to subscribers (out, at the backend)."""
    return {"messages_in": stats["frontend_frames_in"] // FRAMES_PER_MESSAGE,
            "bytes_in": stats["frontend_bytes_in"],
            "messages_out": stats["backend_frames_out"] // FRAMES_PER_MESSAGE,
            "bytes_out": stats["backend_bytes_out"]}


class Hub:
    """Forward every frame from ``frontend`` (XSUB, bind) to ``backend`` (XPUB, bind)."""

    def __init__(self, ctx: zmq.Context[Any], frontend: str, backend: str) -> None:
        self.frontend = frontend
        self.backend = backend
        self._ctx = ctx
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._steer: zmq.Socket[Any] | None = None  #: talks to the proxy's control socket
        self._control_ep = f"inproc://bus-hub-control-{uuid.uuid4().hex}"
        self._xsub = ctx.socket(zmq.XSUB, socket_class=zmq.Socket)
        self._xpub = ctx.socket(zmq.XPUB, socket_class=zmq.Socket)
        self._control = ctx.socket(zmq.PAIR, socket_class=zmq.Socket)
        for sock in (self._xsub, self._xpub, self._control):
            sock.setsockopt(zmq.LINGER, 0)
        self._xsub.setsockopt(zmq.RCVHWM, HUB_HWM)
        self._xsub.setsockopt(zmq.SNDHWM, HUB_HWM)
        self._xsub.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES + MAX_TOPIC_BYTES)
        self._xpub.setsockopt(zmq.SNDHWM, HUB_HWM)
        self._xpub.setsockopt(zmq.RCVHWM, HUB_HWM)
        self._xpub.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIPTION_BYTES)
        try:
            self._control.bind(self._control_ep)
            security.secure_server(self._xsub)
            security.secure_server(self._xpub)
            self._xsub.bind(frontend)
            self._xpub.bind(backend)
        except (zmq.ZMQError, security.SecurityError):
            self._close()
            raise

    def run(self) -> None:
        """Forward until ``stop()``; blocks the calling thread."""
        log.info("hub forwarding %s -> %s", self.frontend, self.backend)
        try:
            while not self._stopped.is_set():
                try:
                    zmq.proxy_steerable(self._xsub, self._xpub, None, self._control)
                    break  # TERMINATE received
                except zmq.ZMQError as exc:
                    if exc.errno == errno.EINTR:
                        continue  # a signal; stop() may have set the flag
                    if exc.errno == zmq.ETERM:
                        break
                    raise
        finally:
            self._close()
            log.info("hub stopped")

    def stop(self) -> None:
        """Ask ``run()`` to return; callable from any thread (not from a signal handler
        interrupting ``run()`` in the same thread)."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            if self._closed:
                return
            # The sending socket must stay open until the proxy has read TERMINATE:
            # closing it at once lets libzmq drop the queued command with the pipe.
            try:
                self._steering().send(b"TERMINATE", flags=zmq.NOBLOCK)
            except zmq.Again:
                log.warning("hub control socket not ready; stop may be delayed")

    def _steering(self) -> zmq.Socket[Any]:
        """The one socket (PAIR) that talks to the proxy's control socket; under _lock."""
        if self._steer is None:
            self._steer = self._ctx.socket(zmq.PAIR, socket_class=zmq.Socket)
            self._steer.setsockopt(zmq.LINGER, 0)
            self._steer.connect(self._control_ep)
        return self._steer

    def statistics(self, timeout: float = STATISTICS_TIMEOUT) -> dict[str, int] | None:
        """The proxy's counters since the start (STAT_FIELDS), or None when it does not
        answer (not running yet, or stopping). Callable from any thread."""
        with self._lock:
            if self._stopped.is_set() or self._closed:
                return None
            steer = self._steering()
            try:
                steer.send(b"STATISTICS", flags=zmq.NOBLOCK)
            except zmq.Again:
                return None
            if not steer.poll(int(timeout * 1000)):
                # A late answer would be read as the next one's: start a fresh socket.
                steer.close(linger=0)
                self._steer = None
                return None
            frames = steer.recv_multipart()
        if len(frames) != len(STAT_FIELDS):
            return None
        return {k: struct.unpack("=Q", f)[0] for k, f in zip(STAT_FIELDS, frames, strict=True)}

    def close(self) -> None:
        """Close the sockets of a hub whose ``run()`` was never called."""
        self._close()

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            socks = [self._xsub, self._xpub, self._control]
            if self._steer is not None:
                socks.append(self._steer)
            for sock in socks:
                sock.close(linger=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bus.hub", description=__doc__)
    parser.add_argument("--frontend", required=True, help="XSUB endpoint publishers connect to")
    parser.add_argument("--backend", required=True, help="XPUB endpoint subscribers connect to")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx = zmq.Context()
    try:
        hub = Hub(ctx, args.frontend, args.backend)
    except zmq.ZMQError as exc:
        log.error("hub cannot bind: %s", exc)
        security.close()
        ctx.term()
        return 2
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("hub got signal %d, stopping", signum)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=hub.run, name="bus-hub", daemon=True)
    worker.start()
    beats = Publisher(ctx, args.frontend, HUB_PROCESS)
    started = next_beat = time.monotonic()
    while not done.wait(max(0.0, min(0.5, next_beat - time.monotonic()))):
        if not worker.is_alive():
            log.error("hub thread died")
            beats.close()
            security.close()
            ctx.term()
            return 1
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + HEARTBEAT_INTERVAL
            beat(hub, beats, started)
    beats.close()
    hub.stop()
    worker.join(5)
    security.close()
    ctx.term()
    return 0


def beat(hub: Hub, beats: Publisher, started: float) -> None:
    """One heartbeat of the hub, with its traffic counters (when the proxy answers)."""
    stats = hub.statistics()
    body: dict[str, Any] = {"pid": os.getpid(), "uptime": time.monotonic() - started}
    if stats is not None:
        body.update(traffic(stats))
    beats.publish(topics.hb(HUB_PROCESS), HEARTBEAT_TYPE, body)


if __name__ == "__main__":
    raise SystemExit(main())
