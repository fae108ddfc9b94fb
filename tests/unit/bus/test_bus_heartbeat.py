from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest
import zmq
import zmq.asyncio

from bus import topics
from bus.codec import Envelope
from bus.endpoints import Endpoints
from bus.heartbeat import HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS, Heartbeater, LivenessTracker
from bus.publisher import Publisher
from bus.subscriber import Subscriber, SyncSubscriber

#: generous bound for every wait; a healthy run returns as soon as the condition holds
WAIT = 10.0


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
def test_heartbeater_run_keeps_publishing_pid_uptime_and_info(
    ctx: zmq.Context, actx: zmq.asyncio.Context, hub: Endpoints  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        sub = Subscriber(actx, hub.subscribe, [topics.prefix("hb")])
        pub = Publisher(ctx, hub.publish, "strat_a")
        hb = Heartbeater(pub, "strat_a", info=lambda: {"state": "RUNNING"}, interval=0.05)
        task = asyncio.ensure_future(hb.run())
        try:
            got: list[tuple[str, Envelope]] = []
            while len(got) < 3:  # beats sent before the subscription was live are lost
                msg = await sub.recv(timeout=WAIT)
                assert msg is not None, f"only {len(got)} heartbeats arrived"
                got.append(msg)
            topic, env = got[-1]
            assert topic == topics.hb("strat_a") and env.type == "hb" and env.source == "strat_a"
            assert env.body["pid"] == os.getpid() and env.body["state"] == "RUNNING"
            assert env.body["uptime"] >= 0
            first = got[0][1].seq
            assert [e.seq for _, e in got] == [first, first + 1, first + 2]
            assert sub.gaps == []
        finally:
            hb.stop()
            await asyncio.wait_for(task, WAIT)
            sub.close()
            pub.close()

    asyncio.run(main())


def test_failing_info_still_sends_a_bare_heartbeat(
    ctx: zmq.Context, hub: Endpoints, caplog: pytest.LogCaptureFixture  # type: ignore[type-arg]
) -> None:
    def info() -> dict[str, object]:
        raise RuntimeError("no info")

    sub = SyncSubscriber(ctx, hub.subscribe, [topics.prefix("hb")])
    pub = Publisher(ctx, hub.publish, "p")
    try:
        hb = Heartbeater(pub, "p", info=info)
        deadline = time.monotonic() + WAIT
        with caplog.at_level(logging.ERROR, logger="bus.heartbeat"):
            # beat until one arrives: beats sent before the subscription was live are lost
            while (msg := sub.recv(0.05)) is None:
                assert time.monotonic() < deadline, "no heartbeat arrived"
                hb.beat()
        topic, env = msg
        assert topic == topics.hb("p") and env.type == "hb" and env.source == "p"
        assert set(env.body) == {"pid", "uptime"} and env.body["pid"] == os.getpid()
        assert any("info() failed" in r.message for r in caplog.records)
    finally:
        sub.close()
        pub.close()
