from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from bus import topics
from bus.endpoints import Endpoints
from bus.heartbeat import HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS, Heartbeater, LivenessTracker
from bus.publisher import Publisher
from bus.subscriber import Subscriber


def test_defaults_follow_paranoid_pirate() -> None:
    assert (HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS) == (1.0, 3)
    assert LivenessTracker().timeout == 3.0


def test_process_is_alive_until_liveness_intervals_pass() -> None:
    t = LivenessTracker(interval=1.0, liveness=3)
    assert not t.alive("a", now=0.0) and t.last_seen("a") is None
    t.beat("a", now=10.0)
    assert t.alive("a", now=12.9) and t.alive("a", now=13.0)
    assert not t.alive("a", now=13.01)
    assert t.last_seen("a") == 10.0


def test_expired_lists_only_silent_processes() -> None:
    t = LivenessTracker()
    t.beat("a", now=0.0)
    t.beat("b", now=2.0)
    assert t.expired(now=2.5) == []
    assert t.expired(now=4.0) == ["a"]
    t.beat("a", now=4.0)
    assert t.expired(now=6.0) == ["b"]
    t.forget("b")
    assert t.expired(now=6.0) == [] and t.processes == ["a"]


@pytest.mark.timeout(30)
def test_heartbeater_publishes_pid_uptime_and_info(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        sub = Subscriber(actx, hub.subscribe, [topics.prefix("hb")])
        pub = Publisher(ctx, hub.publish, "strat_a")
        hb = Heartbeater(pub, "strat_a", info=lambda: {"state": "RUNNING"}, interval=0.05)
        task = asyncio.ensure_future(hb.run())
        tracker = LivenessTracker(interval=0.05)
        try:
            got = []
            while len(got) < 3:
                msg = await sub.recv(timeout=10)
                assert msg is not None
                got.append(msg)
                tracker.beat(msg[1].source)
            topic, env = got[-1]
            assert topic == topics.hb("strat_a") and env.type == "hb"
            assert env.body["pid"] == os.getpid() and env.body["state"] == "RUNNING"
            assert env.body["uptime"] >= 0
            assert [e.seq for _, e in got] == sorted(e.seq for _, e in got)
            assert tracker.alive("strat_a") and sub.gaps == []
        finally:
            hb.stop()
            await asyncio.wait_for(task, 5)
            sub.close()
            pub.close()

    asyncio.run(main())


def test_failing_info_still_sends_a_bare_heartbeat(ctx: zmq.Context, run_dir: Path) -> None:  # type: ignore[type-arg]
    def info() -> dict[str, object]:
        raise RuntimeError("no info")

    pub = Publisher(ctx, "inproc://nowhere", "p")
    try:
        hb = Heartbeater(pub, "p", info=info)
        assert hb.beat() == 1 and hb.beat() == 2
    finally:
        pub.close()
