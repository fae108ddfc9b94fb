from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from bus_integration_kit import HubProc, free_port, start_hub, stop_hub, wait_ready

from bus import topics
from bus.client import Requester
from bus.codec import MAX_FRAME_BYTES
from bus.endpoints import Endpoints
from bus.errors import Code, RequestTimeout
from bus.publisher import Publisher
from bus.subscriber import SyncSubscriber

pytestmark = pytest.mark.timeout(90)

PROBE = "test.probe."


def wait_flowing(pub: Publisher, sub: SyncSubscriber, timeout: float = 20) -> None:
    """Publish probes until one comes back: subscriptions have reached the publisher."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pub.publish(PROBE, "probe", {})
        if sub.recv(0.05) is not None:
            while sub.recv(0.05) is not None:  # drain the other probes
                pass
            return
    raise AssertionError("hub never forwarded a probe")


PUBLISHER_SCRIPT = textwrap.dedent(
    """
    import sys, time, zmq
    from bus import topics
    from bus.publisher import Publisher
    ep, n = sys.argv[1], int(sys.argv[2])
    ctx = zmq.Context()
    pub = Publisher(ctx, ep, "remote")
    # wait until the test says it is subscribed: it sends a line on stdin
    while True:
        pub.publish("test.probe.", "probe", {})
        import select
        if select.select([sys.stdin], [], [], 0.05)[0]:
            break
    sys.stdin.readline()
    for i in range(n):
        pub.publish(topics.status("alpha"), "status", {"i": i})
        pub.publish(topics.status("alpha2"), "status", {"i": i})
        pub.publish(topics.fill("alpha"), "fill", {"i": i})
    time.sleep(0.5)
    pub.close()
    ctx.term()
    """
)


def test_hub_forwards_between_processes_with_exact_prefix_filtering(
    hub_proc: HubProc, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    eps = hub_proc.endpoints
    sub = SyncSubscriber(ctx, eps.subscribe, [PROBE, topics.status("alpha")])
    child = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_SCRIPT, eps.publish, "500"],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while (msg := sub.recv(0.1)) is None or msg[0] != PROBE:
            assert time.monotonic() < deadline, "no probe from the publisher process"
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()
        got = []
        while len(got) < 500:
            msg = sub.recv(10)
            assert msg is not None, f"only {len(got)} of 500 arrived"
            if msg[0] != PROBE:
                got.append(msg)
        assert {t for t, _ in got} == {topics.status("alpha")}
        assert [e.body["i"] for _, e in got] == list(range(500))
        assert all(e.source == "remote" for _, e in got)
        assert sub.gaps == [] and sub.bad_frames == 0
        assert child.wait(20) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        sub.close()


def test_malformed_frames_pass_the_hub_and_are_dropped_by_subscribers(
    hub_proc: HubProc, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    eps = hub_proc.endpoints
    pub = Publisher(ctx, eps.publish, "good")
    raw = ctx.socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(eps.publish)
    sub = SyncSubscriber(ctx, eps.subscribe, ["", PROBE])
    try:
        wait_flowing(pub, sub)
        time.sleep(0.2)  # the raw publisher's connection is up by now too
        junk = [
            [b"status.x.", b"\xc1garbage"],
            [b"status.x."],
            [b"status.x.", b"a", b"b"],
            [b"status.x.", msgpack.packb({"v": 9, "type": "t", "source": "s", "seq": 1,
                                          "ts": 0.0, "body": {}})],
            [b"\xff\xfe", b"x"],
        ]
        for frames in junk:
            raw.send_multipart(frames)
        pub.publish(topics.status("x"), "status", {"after": True})
        msg = sub.recv(10)
        while msg is not None and msg[0] == PROBE:
            msg = sub.recv(10)
        assert msg is not None and msg[1].body == {"after": True}
        # the raw socket is another connection: its frames may arrive after the good one
        deadline = time.monotonic() + 10
        while sub.bad_frames < len(junk) and time.monotonic() < deadline:
            sub.recv(0.1)
        assert sub.bad_frames == len(junk)
        assert hub_proc.alive()
    finally:
        raw.close(linger=0)
        pub.close()
        sub.close()


def test_oversized_frame_is_dropped_by_hub_which_stays_up(
    hub_proc: HubProc, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    eps = hub_proc.endpoints
    pub = Publisher(ctx, eps.publish, "good")
    sub = SyncSubscriber(ctx, eps.subscribe, ["", PROBE])
    big = ctx.socket(zmq.PUB)
    big.setsockopt(zmq.LINGER, 0)
    big.connect(eps.publish)
    try:
        wait_flowing(pub, sub)
        time.sleep(0.2)
        for _ in range(3):
            big.send_multipart([b"status.big.", b"\x00" * (2 * MAX_FRAME_BYTES)])
        time.sleep(0.5)
        pub.publish(topics.status("x"), "status", {"still": "up"})
        seen = []
        while (msg := sub.recv(2)) is not None:
            seen.append(msg)
        assert [m[1].body for m in seen if m[0] != PROBE] == [{"still": "up"}]
        assert all(m[0] != "status.big." for m in seen)
        assert hub_proc.alive()
    finally:
        big.close(linger=0)
        pub.close()
        sub.close()


def test_hub_stops_cleanly_on_sigterm(run_dir: Path) -> None:
    eps = Endpoints.ipc(run_dir)
    proc = start_hub(eps)
    wait_ready(eps, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_hub_refuses_an_endpoint_in_use(run_dir: Path) -> None:
    port = free_port()
    eps = Endpoints(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{free_port()}", "", "")
    first = start_hub(eps)
    try:
        wait_ready(eps, first)
        second = start_hub(eps)
        assert second.wait(10) == 2
    finally:
        assert stop_hub(first) == 0


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_requester_times_out_against_a_dead_endpoint(
    transport: str, run_dir: Path, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    ep = Endpoints.ipc(run_dir).manager if transport == "ipc" else f"tcp://127.0.0.1:{free_port()}"
    with Requester(ctx, ep, timeout=0.3) as req:
        t0 = time.monotonic()
        with pytest.raises(RequestTimeout) as info:
            req.request("ping")
        assert time.monotonic() - t0 < 10
        assert info.value.code == Code.TIMEOUT
        assert f"unreachable at {ep}" in info.value.message


def test_ipc_sockets_live_in_a_0700_run_dir(hub_proc: HubProc, run_dir: Path) -> None:
    if not hub_proc.endpoints.publish.startswith("ipc://"):
        pytest.skip("ipc only")
    assert run_dir.stat().st_mode & 0o777 == 0o700
    assert (run_dir / "bus-pub.sock").exists() and (run_dir / "bus-sub.sock").exists()


@pytest.mark.timeout(60)
def test_async_requester_answers_many_concurrent_requests(tmp_path: Path) -> None:
    """A rebalance sends several approvals at once from one requester: none may be lost."""
    import asyncio

    import zmq.asyncio

    from bus.client import AsyncRequester
    from bus.service import Service

    async def scenario() -> list[int]:
        ctx = zmq.asyncio.Context()
        endpoint = f"ipc://{tmp_path}/svc.sock"
        service = Service(ctx, endpoint, "echo")
        service.register("echo", lambda params: params["n"])
        runner = asyncio.create_task(service.run())
        req = AsyncRequester(ctx, endpoint, timeout=10.0)

        async def worker(w: int) -> list[int]:
            # replies keep arriving while other tasks send: the case that lost wake-ups
            return [await req.request("echo", {"n": w * 100 + i}) for i in range(100)]

        try:
            results = await asyncio.gather(*(worker(w) for w in range(10)))
            return sorted(n for r in results for n in r)
        finally:
            req.close()
            service.stop()
            await asyncio.gather(runner, return_exceptions=True)
            ctx.destroy(linger=0)

    assert asyncio.run(scenario()) == list(range(1000))
