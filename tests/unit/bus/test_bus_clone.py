from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from bus import topics
from bus.clone import CloneReplica, CloneState, register_snapshot
from bus.endpoints import Endpoints
from bus.publisher import Publisher
from bus.service import Service

pytestmark = pytest.mark.timeout(60)


class DroppingPublisher:
    """Stands in for the owner's Publisher while updates are 'lost on the wire'."""

    def __init__(self, source: str) -> None:
        self.source = source

    def publish(self, topic: str, type: str, body: dict[str, Any]) -> int:
        return 0


async def until(cond: Callable[[], bool], replica: CloneReplica, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not reached"
        await replica.poll(0.1)


def scenario(
    ctx: zmq.Context, actx: zmq.asyncio.Context, eps: Endpoints,  # type: ignore[type-arg]
    body: Callable[[CloneState, Service, Publisher], Awaitable[None]],
) -> None:
    async def main() -> None:
        pub = Publisher(ctx, eps.publish, "manager")
        state = CloneState(pub, topics.status, name="status")
        svc = Service(actx, eps.manager, "manager")
        register_snapshot(svc, state)
        svc.bind()
        task = asyncio.ensure_future(svc.run())
        try:
            await body(state, svc, pub)
        finally:
            svc.stop()
            await asyncio.wait_for(task, 5)
            pub.close()

    asyncio.run(asyncio.wait_for(main(), 50))


def test_late_joiner_gets_snapshot_then_only_newer_updates(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    async def body(state: CloneState, svc: Service, pub: Publisher) -> None:
        state.set("alpha", {"state": "RUNNING"})
        state.set("beta", {"state": "STOPPED"})
        state.delete("beta")
        state.set("gamma", {"state": "RUNNING"})
        changes: list[tuple[str, str | None, Any]] = []
        replica = CloneReplica(
            actx, hub.subscribe, hub.manager, [topics.prefix("status")], name="status",
            on_change=lambda op, k, v: changes.append((op, k, v)),
        )
        try:
            await replica.start()
            assert replica.state == {"alpha": {"state": "RUNNING"}, "gamma": {"state": "RUNNING"}}
            assert replica.seq == 4 and replica.source == "manager"
            assert changes[0][0] == "snapshot"
            state.set("alpha", {"state": "STOPPED"})
            state.delete("gamma")
            await until(lambda: replica.seq == 6, replica)
            assert replica.state == {"alpha": {"state": "STOPPED"}}
            assert [c[:2] for c in changes[1:]] == [("set", "alpha"), ("del", "gamma")]
            assert replica.gaps == [] and replica.snapshots == 1
        finally:
            replica.close()

    scenario(ctx, actx, hub, body)


def test_updates_already_in_snapshot_are_not_reapplied(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    async def body(state: CloneState, svc: Service, pub: Publisher) -> None:
        replica = CloneReplica(actx, hub.subscribe, hub.manager, ["status."], name="status")
        try:
            await asyncio.sleep(0.2)  # subscription is live: updates below get queued
            state.set("a", 1)
            state.set("a", 2)
            await replica.start()  # snapshot at seq 2; the queued seq 1 and 2 are skipped
            assert replica.state == {"a": 2} and replica.seq == 2
            state.set("b", 3)
            await until(lambda: replica.seq == 3, replica)
            assert replica.state == {"a": 2, "b": 3} and replica.gaps == []
        finally:
            replica.close()

    scenario(ctx, actx, hub, body)


def test_gap_in_owner_sequence_is_reported_and_resnapshotted(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints,  # type: ignore[type-arg]
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body(state: CloneState, svc: Service, pub: Publisher) -> None:
        state.set("a", 1)
        replica = CloneReplica(actx, hub.subscribe, hub.manager, ["status."], name="status")
        try:
            await replica.start()
            state.publisher = DroppingPublisher("manager")  # type: ignore[assignment]
            state.set("lost", 2)
            state.publisher = pub
            state.set("c", 3)
            with caplog.at_level(logging.ERROR, logger="bus.clone"):
                await until(lambda: replica.snapshots == 2, replica)
            assert [(g.expected, g.got) for g in replica.gaps] == [(2, 3)]
            assert any("GAP" in r.message for r in caplog.records)
            assert replica.state == {"a": 1, "lost": 2, "c": 3} and replica.seq == 3
        finally:
            replica.close()

    scenario(ctx, actx, hub, body)


def test_owner_restart_triggers_resnapshot(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    async def body(state: CloneState, svc: Service, pub: Publisher) -> None:
        for i in range(5):
            state.set(f"k{i}", i)
        replica = CloneReplica(actx, hub.subscribe, hub.manager, ["status."], name="status")
        try:
            await replica.start()
            assert replica.seq == 5
            fresh = CloneState(pub, topics.status, name="status")  # owner restarted: seq 1
            register_snapshot(svc, fresh)
            fresh.set("new", 1)
            await until(lambda: replica.snapshots == 2, replica)
            assert replica.state == {"new": 1} and replica.seq == 1
        finally:
            replica.close()

    scenario(ctx, actx, hub, body)


def test_snapshot_reports_seq_state_and_source(ctx: zmq.Context, run_dir: Path) -> None:  # type: ignore[type-arg]
    pub = Publisher(ctx, "inproc://nobody", "owner")
    try:
        st = CloneState(pub, "params.x.")
        assert st.set("k", [1, 2]) == 1
        assert st.delete("k") == 2
        st.set("j", None)
        snap = st.snapshot()
        assert (snap["seq"], snap["state"], snap["source"]) == (3, {"j": None}, "owner")
    finally:
        pub.close()


def test_replica_retries_snapshot_when_owner_comes_up_late(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    from bus.errors import RequestTimeout

    async def main() -> None:
        replica = CloneReplica(actx, hub.subscribe, hub.manager, ["status."], name="status",
                               timeout=0.2, settle=0.05)
        pub = Publisher(ctx, hub.publish, "manager")
        svc = Service(actx, hub.manager, "manager")
        task = None
        try:
            with pytest.raises(RequestTimeout):
                await replica.start()
            state = CloneState(pub, topics.status, name="status")
            state.set("a", 1)
            register_snapshot(svc, state)
            svc.bind()
            task = asyncio.ensure_future(svc.run())
            await replica.start()
            assert replica.state == {"a": 1} and replica.seq == 1
        finally:
            replica.close()
            svc.stop()
            if task is not None:
                await asyncio.wait_for(task, 5)
            pub.close()

    asyncio.run(asyncio.wait_for(main(), 50))
