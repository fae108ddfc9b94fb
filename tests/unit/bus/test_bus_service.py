from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio

from bus.client import AsyncRequester, Requester, parse_reply
from bus.codec import MAX_FRAME_BYTES, Envelope, decode, encode
from bus.endpoints import ensure_private_dir
from bus.errors import Code, RequestError, RequestTimeout
from bus.service import Service, request_body

pytestmark = pytest.mark.timeout(60)

#: generous bound for every wait a healthy run passes at once (replies, polls)
WAIT = 10.0
WAIT_MS = int(WAIT * 1000)


def endpoint(run_dir: Path) -> str:
    ensure_private_dir(run_dir)
    return f"ipc://{run_dir}/svc.sock"


@asynccontextmanager
async def serving(svc: Service) -> AsyncIterator[Service]:
    svc.bind()
    task = asyncio.ensure_future(svc.run())
    try:
        yield svc
    finally:
        svc.stop()
        await asyncio.wait_for(task, WAIT)


def make_service(actx: zmq.asyncio.Context, ep: str) -> tuple[Service, dict[str, int]]:
    calls: dict[str, int] = {"add": 0}
    svc = Service(actx, ep, "calc")

    def add(params: dict[str, Any]) -> int:
        calls["add"] += 1
        if not isinstance(params.get("a"), int):
            raise RequestError(Code.BAD_PARAMS, "a must be an int", {"param": "a"})
        return int(params["a"]) + int(params.get("b", 0))

    async def slow(params: dict[str, Any]) -> str:
        await asyncio.sleep(float(params.get("delay", 0.05)))
        return str(params.get("tag", "done"))

    def boom(params: dict[str, Any]) -> None:
        raise ZeroDivisionError("kaboom")

    def unencodable(params: dict[str, Any]) -> object:
        return object()

    svc.register("add", add)
    svc.register("slow", slow)
    svc.register("boom", boom)
    svc.register("unencodable", unencodable)
    return svc, calls


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 50))  # type: ignore[arg-type]


def test_ok_reply_and_builtin_ping(actx: zmq.asyncio.Context, run_dir: Path) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            req = AsyncRequester(actx, svc.endpoint, timeout=WAIT)
            try:
                assert await req.request("add", {"a": 2, "b": 3}) == 5
                pong = await req.request("ping")
                assert pong["name"] == "calc" and pong["pid"] == os.getpid()
            finally:
                req.close()

    run(main)


def test_error_reply_carries_code_message_and_data(
    actx: zmq.asyncio.Context, run_dir: Path
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            req = AsyncRequester(actx, svc.endpoint, timeout=WAIT)
            try:
                with pytest.raises(RequestError) as info:
                    await req.request("add", {"a": "x"})
                assert info.value.code == Code.BAD_PARAMS
                assert info.value.message == "a must be an int"
                assert info.value.data == {"param": "a"}
                with pytest.raises(RequestError) as info:
                    await req.request("nope")
                assert info.value.code == Code.UNKNOWN_METHOD
                assert "add" in (info.value.data or {}).get("methods", [])
            finally:
                req.close()

    run(main)


def test_handler_exception_is_internal_and_loop_survives(
    actx: zmq.asyncio.Context, run_dir: Path
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            req = AsyncRequester(actx, svc.endpoint, timeout=WAIT)
            try:
                with pytest.raises(RequestError) as info:
                    await req.request("boom")
                assert info.value.code == Code.INTERNAL and "kaboom" in info.value.message
                with pytest.raises(RequestError) as info:
                    await req.request("unencodable")
                assert info.value.code == Code.INTERNAL
                assert await req.request("add", {"a": 1}) == 1
            finally:
                req.close()

    run(main)


def test_concurrent_async_requests_are_matched_by_id(
    actx: zmq.asyncio.Context, run_dir: Path
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            req = AsyncRequester(actx, svc.endpoint, timeout=WAIT)
            try:
                delays = [0.2, 0.01, 0.1, 0.05, 0.0]
                results = await asyncio.gather(
                    *(req.request("slow", {"delay": d, "tag": f"t{i}"})
                      for i, d in enumerate(delays))
                )
                assert results == [f"t{i}" for i in range(len(delays))]
            finally:
                req.close()

    run(main)


def test_repeated_request_id_gets_stored_reply_without_rerun(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        svc, calls = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            dealer = ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(svc.endpoint)
            data = encode(Envelope("req", "cli", 1, 0.0, request_body("r-1", "add", {"a": 1})))
            try:
                replies = []
                for _ in range(3):
                    dealer.send(data)
                    assert await asyncio.to_thread(dealer.poll, WAIT_MS)
                    replies.append(parse_reply(dealer.recv()))
                assert replies == [("r-1", 1, None)] * 3
                assert calls["add"] == 1
                assert svc.stats["duplicates"] == 2
            finally:
                dealer.close(linger=0)

    run(main)


def test_sync_requester_against_service(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            with Requester(ctx, svc.endpoint, timeout=WAIT) as req:
                assert await asyncio.to_thread(req.request, "add", {"a": 40, "b": 2}) == 42
                with pytest.raises(RequestError) as info:
                    await asyncio.to_thread(req.request, "nope")
                assert info.value.code == Code.UNKNOWN_METHOD

    run(main)


GARBAGE: list[tuple[list[bytes], str]] = [
    ([b"\xc1\xc1garbage"], Code.BAD_FRAME),
    ([encode(Envelope("req", "c", 1, 0.0, request_body("x", "add", {"a": 1})))[:-3]],
     Code.BAD_FRAME),
    ([b"\x00" * (MAX_FRAME_BYTES + 10)], Code.TOO_LARGE),
    ([msgpack.packb({"v": 99, "type": "req", "source": "c", "seq": 1, "ts": 0.0, "body": {}})],
     Code.BAD_VERSION),
    ([encode(Envelope("req", "c", 1, 0.0, {"method": "add"}))], Code.BAD_REQUEST),
    ([encode(Envelope("rep", "c", 1, 0.0, {"id": "z", "method": "add"}))], Code.BAD_REQUEST),
    ([encode(Envelope("req", "c", 1, 0.0, {"id": "z", "method": "add", "params": [1]}))],
     Code.BAD_REQUEST),
    ([b"a", b"b", b"c"], Code.BAD_FRAME),
]


@pytest.mark.parametrize(("frames", "code"), GARBAGE)
def test_garbage_frames_get_error_reply_and_service_stays_up(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path,  # type: ignore[type-arg]
    frames: list[bytes], code: str,
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            dealer = ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(svc.endpoint)
            try:
                dealer.send_multipart(frames)
                assert await asyncio.to_thread(dealer.poll, WAIT_MS)
                reply = decode(dealer.recv())
                assert reply.type == "rep" and reply.body["ok"] is False
                assert reply.body["error"]["code"] == code
            finally:
                dealer.close(linger=0)
            req = AsyncRequester(actx, svc.endpoint, timeout=WAIT)
            try:
                assert await req.request("add", {"a": 7}) == 7
            finally:
                req.close()

    run(main)


def test_reply_cache_is_bounded(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        svc = Service(actx, endpoint(run_dir), "small", cache_size=5)
        async with serving(svc):
            req = AsyncRequester(actx, svc.endpoint, timeout=WAIT)
            try:
                for _ in range(20):
                    await req.request("ping")
                assert len(svc._cache) == 5
            finally:
                req.close()

    run(main)


def test_requester_times_out_naming_the_endpoint_and_recovers(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    ep = endpoint(run_dir)
    with Requester(ctx, ep, timeout=0.2, retries=1) as req:
        with pytest.raises(RequestTimeout) as info:
            req.request("ping")
        assert info.value.code == Code.TIMEOUT and ep in info.value.message

        async def main() -> None:
            svc, _ = make_service(actx, ep)
            async with serving(svc):
                assert await asyncio.to_thread(req.request, "add", {"a": 1}, WAIT) == 1

        run(main)


def test_async_requester_times_out(actx: zmq.asyncio.Context, run_dir: Path) -> None:
    async def main() -> None:
        req = AsyncRequester(actx, endpoint(run_dir), timeout=0.2)
        try:
            with pytest.raises(RequestTimeout):
                await req.request("ping")
        finally:
            req.close()

    run(main)


def test_req_socket_with_empty_delimiter_is_answered(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.LINGER, 0)
            req.connect(svc.endpoint)
            try:
                req.send(encode(Envelope("req", "c", 1, 0.0, request_body("q1", "add", {"a": 4}))))
                assert await asyncio.to_thread(req.poll, WAIT_MS)
                assert parse_reply(req.recv()) == ("q1", 4, None)
            finally:
                req.close(linger=0)

    run(main)


def test_garbage_flood_leaves_no_per_message_state(
    ctx: zmq.Context, actx: zmq.asyncio.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        svc, _ = make_service(actx, endpoint(run_dir))
        async with serving(svc):
            dealer = ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(svc.endpoint)
            try:
                n = 2000
                for i in range(n):
                    dealer.send(b"\xc1" + i.to_bytes(4, "big"))
                for _ in range(n):
                    assert await asyncio.to_thread(dealer.poll, WAIT_MS)
                    dealer.recv()
                assert svc.stats["bad_frames"] == n
                assert len(svc._cache) == 0 and len(svc._tasks) == 0
                assert len(svc.stats) < 10
            finally:
                dealer.close(linger=0)

    run(main)
