"""A service that dials out (DEALER) and the switchboard (ROUTER) that sends it requests by
its identity: the service's wire, codes and reply cache, the other way round."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import zmq.asyncio

from bus.dialer import DialingService, Switchboard
from bus.endpoints import Endpoints
from bus.errors import Code, RequestError, RequestTimeout


def serve(actx: zmq.asyncio.Context, run_dir: Path,
          scenario: Callable[[Switchboard, DialingService, list[Any]], Awaitable[None]]) -> None:
    endpoint = Endpoints.ipc(run_dir).agents
    calls: list[Any] = []

    async def main() -> None:
        board = Switchboard(actx, endpoint, "manager", timeout=5.0)
        agent = DialingService(actx, endpoint, "agent.b", "agent.b")

        def echo(params: dict[str, Any]) -> Any:
            calls.append(params)
            if params.get("fail"):
                raise RequestError("NOPE", "refused on purpose")
            return {"got": params}

        async def slow(params: dict[str, Any]) -> Any:
            await asyncio.sleep(10)

        agent.register("echo", echo)
        agent.register("slow", slow)
        board.bind()
        tasks = [asyncio.create_task(board.run()), asyncio.create_task(agent.run())]
        try:
            for _ in range(200):  # until the dialer is through
                try:
                    await board.request("agent.b", "ping", timeout=1.0)
                    break
                except RequestError:
                    await asyncio.sleep(0.02)
            await scenario(board, agent, calls)
        finally:
            board.stop()
            agent.stop()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def test_a_request_reaches_the_dialer_by_its_identity_and_its_reply_comes_back(
        actx: zmq.asyncio.Context, run_dir: Path) -> None:
    async def scenario(board: Switchboard, agent: DialingService, calls: list[Any]) -> None:
        assert await board.request("agent.b", "echo", {"x": 1}) == {"got": {"x": 1}}
        with pytest.raises(RequestError) as refused:
            await board.request("agent.b", "echo", {"fail": True})
        assert (refused.value.code, refused.value.message) == ("NOPE", "refused on purpose")
        with pytest.raises(RequestError) as unknown:
            await board.request("agent.b", "nope")
        assert unknown.value.code == Code.UNKNOWN_METHOD
        assert calls == [{"x": 1}, {"fail": True}]

    serve(actx, run_dir, scenario)


def test_a_request_to_an_identity_not_connected_fails_at_once(
        actx: zmq.asyncio.Context, run_dir: Path) -> None:
    async def scenario(board: Switchboard, agent: DialingService, calls: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RequestError) as missing:
            await board.request("agent.c", "echo", {})
        assert missing.value.code == Code.UNREACHABLE and "agent.c" in missing.value.message
        assert loop.time() - started < 1.0  # not after a timeout

    serve(actx, run_dir, scenario)


def test_a_dialer_that_does_not_answer_in_time_times_out(
        actx: zmq.asyncio.Context, run_dir: Path) -> None:
    async def scenario(board: Switchboard, agent: DialingService, calls: list[Any]) -> None:
        with pytest.raises(RequestTimeout) as late:
            await board.request("agent.b", "slow", timeout=0.2)
        assert late.value.code == Code.TIMEOUT and "agent.b" in late.value.message

    serve(actx, run_dir, scenario)
