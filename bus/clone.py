"""Clone pattern: a state owner publishes numbered updates and serves snapshots; a replica
subscribes first, then fetches the snapshot, applies only newer updates and re-snapshots
loudly on a gap.

Update envelope: ``type="clone"``, body ``{"state": name, "epoch": str, "seq": int,
"op": "set"|"del", "key": str, "value": any}``. ``seq`` is the state's own sequence (not the
envelope's), so one state may publish on several topics. ``epoch`` changes when the owner
restarts, so a replica notices a reset sequence.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import zmq.asyncio

from bus.client import AsyncRequester
from bus.publisher import Publisher
from bus.service import Service
from bus.subscriber import Gap, Subscriber

log = logging.getLogger(__name__)

CLONE_TYPE = "clone"
SET = "set"
DEL = "del"
SNAPSHOT = "snapshot"

#: ``on_change(op, key, value)``: op is "set", "del" (value None) or "snapshot" (key None,
#: value the whole state)
ChangeCallback = Callable[[str, str | None, Any], None]


class CloneState:
    """Key/value state owned by one process. ``topic`` is a fixed topic or a function of
    the key (e.g. ``topics.status`` to publish each strategy's entry on its own topic)."""

    def __init__(
        self,
        publisher: Publisher,
        topic: str | Callable[[str], str],
        *,
        name: str = "state",
    ) -> None:
        self.publisher = publisher
        self.name = name
        self.epoch = uuid.uuid4().hex
        self._topic = topic
        self._state: dict[str, Any] = {}
        self._seq = 0

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def state(self) -> dict[str, Any]:
        return self._state

    def topic_for(self, key: str) -> str:
        return self._topic if isinstance(self._topic, str) else self._topic(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._state.get(key, default)

    def set(self, key: str, value: Any) -> int:
        """Store and publish ``value`` under ``key``; return the state's new seq."""
        self._seq += 1
        self._state[key] = value
        self._publish(SET, key, value)
        return self._seq

    def delete(self, key: str) -> int:
        self._seq += 1
        self._state.pop(key, None)
        self._publish(DEL, key, None)
        return self._seq

    def _publish(self, op: str, key: str, value: Any) -> None:
        body = {
            "state": self.name, "epoch": self.epoch, "seq": self._seq,
            "op": op, "key": key, "value": value,
        }
        self.publisher.publish(self.topic_for(key), CLONE_TYPE, body)

    def snapshot(self) -> dict[str, Any]:
        return {
            "seq": self._seq,
            "state": dict(self._state),
            "source": self.publisher.source,
            "name": self.name,
            "epoch": self.epoch,
        }


def register_snapshot(service: Service, clone_state: CloneState, method: str = SNAPSHOT) -> None:
    """Serve ``clone_state.snapshot()`` as ``method`` on ``service``."""

    def handler(params: dict[str, Any]) -> dict[str, Any]:
        return clone_state.snapshot()

    service.register(method, handler)


class CloneReplica:
    """Live copy of a remote CloneState. ``await start()`` subscribes then snapshots;
    ``await run()`` (starts if needed and) applies updates forever."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        subscribe_endpoint: str,
        service_endpoint: str,
        prefixes: Sequence[str],
        *,
        name: str = "state",
        method: str = SNAPSHOT,
        on_change: ChangeCallback | None = None,
        timeout: float = 3.0,
        settle: float = 0.1,
    ) -> None:
        self.name = name
        self.method = method
        self.on_change = on_change
        self.state: dict[str, Any] = {}
        self.seq = 0
        self.source: str | None = None
        self.epoch: str | None = None
        self.gaps: list[Gap] = []
        self.snapshots = 0
        self._settle = settle
        self._sub = Subscriber(ctx, subscribe_endpoint, prefixes)
        self._req = AsyncRequester(ctx, service_endpoint, timeout=timeout)
        self._started = False
        self._stale = True  # no valid snapshot yet, or the last re-snapshot failed

    async def start(self) -> None:
        """Fetch the snapshot (again, if the last one failed); safe to call repeatedly."""
        if not self._stale:
            return
        if not self._started:
            # subscribed first (in Subscriber.__init__); let the subscription reach the
            # publisher through the hub before taking the snapshot
            await asyncio.sleep(self._settle)
            self._started = True
        await self.resnapshot()
        await self.drain()

    async def resnapshot(self) -> None:
        """Replace the state with a fresh snapshot; on failure ``start()``/``run()`` retry."""
        self._stale = True
        snap = await self._req.request(self.method)
        if not isinstance(snap, dict) or not isinstance(snap.get("state"), dict):
            raise ValueError(f"bad snapshot reply: {snap!r}")
        self.state = dict(snap["state"])
        self.seq = int(snap["seq"])
        self.source = snap.get("source")
        self.epoch = snap.get("epoch")
        self.snapshots += 1
        self._stale = False
        log.info("clone %s: snapshot from %s at seq %d", self.name, self.source, self.seq)
        self._notify(SNAPSHOT, None, self.state)

    async def drain(self) -> int:
        """Apply every update already queued, without waiting; return how many arrived."""
        n = 0
        while (msg := await self._sub.recv(timeout=0)) is not None:
            n += 1
            await self._handle(msg[1].source, msg[1].type, msg[1].body)
        return n

    async def run(self) -> None:
        """Apply updates forever. If it raises (the owner is unreachable for a snapshot),
        calling ``run()`` again resumes with a fresh snapshot."""
        await self.start()
        while True:
            msg = await self._sub.recv(timeout=None)
            if msg is not None:
                await self._handle(msg[1].source, msg[1].type, msg[1].body)

    async def poll(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for one update and apply it; True if one arrived."""
        msg = await self._sub.recv(timeout=timeout)
        if msg is None:
            return False
        await self._handle(msg[1].source, msg[1].type, msg[1].body)
        return True

    async def _handle(self, source: str, type_: str, body: dict[str, Any]) -> None:
        if type_ != CLONE_TYPE or body.get("state") != self.name or source != self.source:
            return
        seq, op, key = body.get("seq"), body.get("op"), body.get("key")
        if not isinstance(seq, int) or op not in (SET, DEL) or not isinstance(key, str):
            log.warning("clone %s: malformed update %r", self.name, body)
            return
        if body.get("epoch") != self.epoch:
            log.error("clone %s: owner %s restarted (new epoch); re-snapshotting",
                      self.name, source)
            await self.resnapshot()
            return
        if seq <= self.seq:
            return  # already in the snapshot
        if seq != self.seq + 1:
            gap = Gap(source, self.seq + 1, seq, self.name)
            self.gaps.append(gap)
            log.error(
                "clone %s: GAP from %s: expected seq %d, got %d; state is stale, "
                "re-snapshotting", self.name, source, gap.expected, gap.got,
            )
            await self.resnapshot()
            return
        self.seq = seq
        if op == SET:
            self.state[key] = body.get("value")
            self._notify(SET, key, self.state[key])
        else:
            self.state.pop(key, None)
            self._notify(DEL, key, None)

    def _notify(self, op: str, key: str | None, value: Any) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(op, key, value)
        except Exception:
            log.exception("clone %s: on_change failed", self.name)

    def close(self) -> None:
        self._sub.close()
        self._req.close()
