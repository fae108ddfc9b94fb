"""Fan-out to open pages: each gets every event; one that falls behind starts over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq.asyncio
from webkit import FakeBackend

from ats.web.live import Broadcast, LiveBus
from bus.endpoints import Endpoints


def test_every_open_page_gets_every_event_and_a_closed_one_none() -> None:
    async def go() -> None:
        b = Broadcast()
        a, c = b.open(), b.open()
        b.close(c)
        b.send("set", {"key": "x"})
        assert a.get_nowait() == ("set", {"key": "x"}) and c.empty()
    asyncio.run(go())


def test_a_page_that_falls_behind_is_told_to_resync() -> None:
    async def go() -> None:
        b = Broadcast(size=3)
        q = b.open()
        for i in range(4):
            b.send("set", {"i": i})
        assert q.get_nowait() == ("resync", {}) and q.empty()
    asyncio.run(go())


def test_end_closes_every_stream() -> None:
    async def go() -> None:
        b = Broadcast(size=1)
        q = b.open()
        b.send("set", {})
        b.end()
        assert q.get_nowait() is None
    asyncio.run(go())


def test_a_page_opening_gets_each_state_whole_then_the_status_then_recent_events(
        tmp_path: Path) -> None:
    async def go() -> None:
        ctx = zmq.asyncio.Context()
        live = LiveBus(ctx, Endpoints.ipc(tmp_path), FakeBackend(), clock=lambda: 42.0)
        q = live.broadcast.open()
        live._keep_status([{"name": "web", "kind": "process", "state": "RUNNING"}])
        live._on_change("strategies")("snapshot", None, {"a": {"state": "RUNNING"}})
        live._on_change("strategies")("set", "a", {"state": "STOPPED"})
        kinds = [q.get_nowait()[0] for _ in range(q.qsize())]
        assert kinds == ["status", "snapshot", "set"]
        opening = live.opening()
        assert opening[0] == ("hello", {"server_time": 42.0, "errors": {}})
        assert [k for k, d in opening[1:6]] == ["snapshot"] * 5
        assert opening[6] == ("status", {"time": 42.0, "rows": [
            {"name": "web", "kind": "process", "state": "RUNNING"}]})
        ctx.term()
    asyncio.run(go())


def test_an_unreachable_owner_is_reported_until_its_next_snapshot(tmp_path: Path) -> None:
    async def go() -> None:
        ctx = zmq.asyncio.Context()
        live = LiveBus(ctx, Endpoints.ipc(tmp_path), FakeBackend())
        q = live.broadcast.open()
        live._error("pnl", "pnl: broker unreachable")
        assert live.opening()[0][1]["errors"] == {"pnl": "pnl: broker unreachable"}
        live._on_change("pnl")("snapshot", None, {})
        assert live.errors == {}
        assert [q.get_nowait()[0] for _ in range(q.qsize())] == ["errors", "errors", "snapshot"]
        ctx.term()
    asyncio.run(go())
