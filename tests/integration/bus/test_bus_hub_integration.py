from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
import zmq
from bus_integration_kit import (
    PROBE,
    WAIT,
    HubProc,
    free_port,
    handshake,
    recv_until,
    start_hub,
    stop_hub,
    wait_ready,
)
from zmq.utils.monitor import recv_monitor_message

from bus import topics
from bus.client import Requester
from bus.codec import MAX_FRAME_BYTES, Envelope, encode
from bus.endpoints import Endpoints
from bus.errors import Code, RequestTimeout
from bus.subscriber import SyncSubscriber

pytestmark = pytest.mark.timeout(90)

#: the child publisher's last message: everything it published before has arrived
END = "test.end."

PUBLISHER_SCRIPT = textwrap.dedent(
    """
    import select, sys, zmq
    from bus import topics
    from bus.publisher import Publisher
    ep, n, probe, end = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = zmq.Context()
    pub = Publisher(ctx, ep, "remote")
    # probe until the test, having received a probe, says "go" on stdin
    while not select.select([sys.stdin], [], [], 0.05)[0]:
        pub.publish(probe, "probe", {})
    sys.stdin.readline()
    for i in range(n):
        pub.publish(topics.status("alpha"), "status", {"i": i})
        pub.publish(topics.status("alpha2"), "status", {"i": i})
        pub.publish(topics.fill("alpha"), "fill", {"i": i})
    pub.publish(end, "end", {})
    # close() drops what is still queued (linger 0): wait until the test has it all
    sys.stdin.readline()
    pub.close()
    ctx.term()
    """
)


def raw_prober(sock: zmq.Socket, source: str) -> Callable[[], None]:  # type: ignore[type-arg]
    """Send well-formed probes from ``source`` on a raw PUB socket."""
    seqs = itertools.count(1)

    def send() -> None:
        data = encode(Envelope("probe", source, next(seqs), 0.0, {}))
        sock.send_multipart([PROBE.encode(), data])

    return send


def test_hub_forwards_between_processes_with_exact_prefix_filtering(
    hub_proc: HubProc, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    eps = hub_proc.endpoints
    sub = SyncSubscriber(ctx, eps.subscribe, [PROBE, END, topics.status("alpha")])
    child = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_SCRIPT, eps.publish, "500", PROBE, END],
        stdin=subprocess.PIPE,
    )
    assert child.stdin is not None
    try:
        deadline = time.monotonic() + WAIT
        while (msg := sub.recv(0.1)) is None or msg[0] != PROBE:
            assert child.poll() is None, "the publisher process died"
            assert time.monotonic() < deadline, "no probe from the publisher process"
        child.stdin.write(b"go\n")
        child.stdin.flush()
        # alpha2 and fill messages go out between and before the end sentinel: had the
        # filter let them through, they would be in ``got``
        got = recv_until(sub, lambda m: m[0] == END)
        assert {t for t, _ in got} == {topics.status("alpha")}
        assert [e.body["i"] for _, e in got] == list(range(500))
        assert all(e.source == "remote" for _, e in got)
        assert sub.gaps == [] and sub.bad_frames == 0
        child.stdin.write(b"done\n")
        child.stdin.flush()
        assert child.wait(WAIT) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdin.close()
        sub.close()


def test_malformed_frames_pass_the_hub_and_are_dropped_by_subscribers(
    hub_proc: HubProc, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    eps = hub_proc.endpoints
    raw = ctx.socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(eps.publish)
    sub = SyncSubscriber(ctx, eps.subscribe, [""])
    try:
        handshake(raw_prober(raw, "raw"), sub, "raw")
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
        raw.send_multipart([b"status.x.", encode(Envelope("status", "raw", 1, 0.0, {"end": 1}))])
        # the junk travelled ahead of the sentinel on the same connection: when the
        # sentinel is in, every junk frame has reached the subscriber and been dropped
        before = recv_until(sub, lambda m: m[1].source == "raw" and m[1].body == {"end": 1})
        assert before == []
        assert sub.bad_frames == len(junk)
        assert hub_proc.alive()
    finally:
        raw.close(linger=0)
        sub.close()


def test_oversized_frame_is_dropped_by_hub_which_stays_up(
    hub_proc: HubProc, ctx: zmq.Context  # type: ignore[type-arg]
) -> None:
    eps = hub_proc.endpoints
    sub = SyncSubscriber(ctx, eps.subscribe, [""])  # would receive status.big. if forwarded
    big = ctx.socket(zmq.PUB)
    big.setsockopt(zmq.LINGER, 0)
    big.connect(eps.publish)
    probe = raw_prober(big, "big")
    monitor: zmq.Socket | None = None  # type: ignore[type-arg]
    try:
        handshake(probe, sub, "big")  # the connection is up: the big frames reach the hub
        monitor = big.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        for _ in range(3):
            big.send_multipart([b"status.big.", b"\x00" * (2 * MAX_FRAME_BYTES)])
        # the hub refuses the frame by cutting the connection that carried it
        assert monitor.poll(int(WAIT * 1000)), "the hub never dropped the oversized frame"
        assert recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED
        # the publisher reconnects and the hub, still up, forwards its later frames; any
        # big frame the hub had forwarded would have arrived before this probe
        handshake(probe, sub, "big")
        assert sub.bad_frames == 0
        assert hub_proc.alive()
    finally:
        if monitor is not None:
            big.disable_monitor()
            monitor.close(linger=0)
        big.close(linger=0)
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
        with pytest.raises(RequestTimeout) as info:
            req.request("ping")  # a hang instead is caught by the test's timeout
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
