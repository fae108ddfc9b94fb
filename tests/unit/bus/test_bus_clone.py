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
from bus.clone import SNAPSHOT, CloneReplica, CloneState, register_snapshot
from bus.endpoints import Endpoints
from bus.errors import RequestError
from bus.publisher import Publisher
from bus.service import Service

pytestmark = pytest.mark.timeout(60)

#: generous bound for every condition wait; a healthy run returns as soon as it holds
WAIT = 10.0
#: a topic under the replicas' "status." prefix that carries no clone update
PROBE_TOPIC = topics.status("probe")


class DroppingPublisher:
    """Stands in for the owner's Publisher while updates are 'lost on the wire'."""

    def __init__(self, source: str) -> None:
        self.source = source

    def publish(self, topic: str, type: str, body: dict[str, Any]) -> int:
        return 0


def make_replica(
    actx: zmq.asyncio.Context, eps: Endpoints, **kwargs: Any
) -> CloneReplica:
    return CloneReplica(
        actx, eps.subscribe, eps.manager, [topics.prefix("status")], name="status",
        timeout=WAIT, **kwargs,
    )


async def eventually(cond: Callable[[], bool], timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.01)


async def until(cond: Callable[[], bool], replica: CloneReplica, timeout: float = WAIT) -> None:
    """Apply the replica's updates until ``cond`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not reached"
        await replica.poll(0.1)


async def subscribed(replica: CloneReplica, pub: Publisher, timeout: float = WAIT) -> None:
    """Publish probes until the replica receives one. From then on its subscription has
    reached ``pub`` through the hub, so no later update is lost to the slow joiner; a test
    need not trust ``CloneReplica``'s fixed settle delay. The replica ignores probes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        pub.publish(PROBE_TOPIC, "probe", {})
        if await replica.poll(0.05):
            return
        assert loop.time() < end, "the replica's subscription never reached the publisher"


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
            await asyncio.wait_for(task, WAIT)
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
        replica = make_replica(actx, hub, on_change=lambda op, k, v: changes.append((op, k, v)))
        try:
            await subscribed(replica, pub)
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
        changes: list[tuple[str, str | None]] = []
        replica = make_replica(actx, hub, on_change=lambda op, k, v: changes.append((op, k)))
        try:
            await subscribed(replica, pub)
            state.set("a", 1)  # delivered to the replica (its subscription is live) ...
            state.set("a", 2)
            await replica.start()  # ... but already in this snapshot, taken at seq 2
            assert replica.state == {"a": 2} and replica.seq == 2
            state.set("b", 3)
            # seq 1 and 2 travel ahead of seq 3 on the same connection: once seq 3 is
            # applied, the replica has received both and must have skipped them
            await until(lambda: replica.seq == 3, replica)
            assert changes == [("snapshot", None), ("set", "b")]
            assert replica.state == {"a": 2, "b": 3} and replica.gaps == []
            assert replica.snapshots == 1
        finally:
            replica.close()

    scenario(ctx, actx, hub, body)


def test_gap_in_owner_sequence_is_reported_and_resnapshotted(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints,  # type: ignore[type-arg]
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body(state: CloneState, svc: Service, pub: Publisher) -> None:
        state.set("a", 1)
        replica = make_replica(actx, hub)
        try:
            await subscribed(replica, pub)
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
        replica = make_replica(actx, hub)
        try:
            await subscribed(replica, pub)
            await replica.start()
            assert replica.seq == 5
            fresh = CloneState(pub, topics.status, name="status")  # owner restarted: seq 1
            register_snapshot(svc, fresh)
            fresh.set("new", 1)
            await until(lambda: replica.snapshots == 2, replica)
            assert replica.state == {"new": 1} and replica.seq == 1
            assert replica.epoch == fresh.epoch
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


def test_replica_started_before_its_owner_gets_the_snapshot_once_the_owner_is_up(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    """The snapshot request waits for the owner's socket to appear (the requester keeps
    reconnecting) instead of failing at once; nobody calls ``start()`` a second time."""

    async def main() -> None:
        replica = make_replica(actx, hub)
        pub = Publisher(ctx, hub.publish, "manager")
        svc = Service(actx, hub.manager, "manager")
        starting = asyncio.ensure_future(replica.start())
        serving = None
        try:
            # white-box: the request is registered before the requester looks for a peer,
            # so from here on it was made while no owner existed
            await eventually(lambda: bool(replica._req._pending))
            assert not starting.done()
            state = CloneState(pub, topics.status, name="status")
            state.set("a", 1)
            register_snapshot(svc, state)
            svc.bind()
            serving = asyncio.ensure_future(svc.run())
            await asyncio.wait_for(starting, 2 * WAIT)
            assert replica.state == {"a": 1} and replica.seq == 1
            assert replica.source == "manager" and replica.snapshots == 1
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            replica.close()
            svc.stop()
            if serving is not None:
                await asyncio.wait_for(serving, WAIT)
            pub.close()

    asyncio.run(asyncio.wait_for(main(), 50))


def test_run_again_after_a_failed_resnapshot_fetches_a_fresh_snapshot(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    """A failed re-snapshot leaves the replica stale: ``run()`` raises, and the next
    ``run()`` snapshots again before applying updates (the documented retry)."""

    def not_ready(params: dict[str, Any]) -> None:
        raise RequestError("NOT_READY", "state not loaded yet")

    async def body(state: CloneState, svc: Service, pub: Publisher) -> None:
        state.set("old", 1)
        replica = make_replica(actx, hub)
        running: asyncio.Future[None] | None = None
        try:
            await subscribed(replica, pub)
            await replica.start()
            # the owner restarts and cannot serve its new state yet
            fresh = CloneState(pub, topics.status, name="status")
            svc.register(SNAPSHOT, not_ready)
            fresh.set("new", 1)  # new epoch: the replica re-snapshots, which fails
            with pytest.raises(RequestError) as info:
                await asyncio.wait_for(replica.run(), 2 * WAIT)
            assert info.value.code == "NOT_READY"
            assert replica.snapshots == 1 and replica.epoch == state.epoch
            register_snapshot(svc, fresh)
            # no further update is published: only the retry in run() can fetch it
            running = asyncio.ensure_future(replica.run())
            await eventually(lambda: replica.snapshots == 2 or running.done())
            if running.done():
                running.result()  # raises what stopped run()
                raise AssertionError("run() returned")
            assert replica.state == {"new": 1} and replica.seq == 1
            assert replica.epoch == fresh.epoch
        finally:
            if running is not None:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
            replica.close()

    scenario(ctx, actx, hub, body)
