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
import signal
import threading
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Any

import zmq

from bus.codec import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

HUB_HWM = 1_000_000
MAX_TOPIC_BYTES = 1024
#: ZMQ_MAXMSGSIZE applies per frame; a subscription frame is tiny
MAX_SUBSCRIPTION_BYTES = 64 * 1024


class Hub:
    """Forward every frame from ``frontend`` (XSUB, bind) to ``backend`` (XPUB, bind)."""

    def __init__(self, ctx: zmq.Context[Any], frontend: str, backend: str) -> None:
        self.frontend = frontend
        self.backend = backend
        self._ctx = ctx
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._stopper: zmq.Socket[Any] | None = None
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
            self._xsub.bind(frontend)
            self._xpub.bind(backend)
        except zmq.ZMQError:
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
            self._stopper = self._ctx.socket(zmq.PAIR, socket_class=zmq.Socket)
            self._stopper.connect(self._control_ep)
            try:
                self._stopper.send(b"TERMINATE", flags=zmq.NOBLOCK)
            except zmq.Again:
                log.warning("hub control socket not ready; stop may be delayed")

    def close(self) -> None:
        """Close the sockets of a hub whose ``run()`` was never called."""
        self._close()

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            socks = [self._xsub, self._xpub, self._control]
            if self._stopper is not None:
                socks.append(self._stopper)
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
    while not done.wait(0.5):
        if not worker.is_alive():
            log.error("hub thread died")
            ctx.term()
            return 1
    hub.stop()
    worker.join(5)
    ctx.term()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
