"""The simulator takes at most 32 API clients at once, as a Gateway: the 33rd gets error 326
naming the cap and its socket closed; a client that leaves frees its place."""

from __future__ import annotations

import asyncio

import pandas as pd
from pinned import SESSION
from simkit import FakeTransport

from ats.apiclients import MAX_API_CLIENTS
from ats.sim.protocol import FrameReader, split_fields
from ats.sim.server import Config, Server
from ats.sim.session import Session

ERR_MSG = "4"


def session(server: Server) -> tuple[Session, FakeTransport]:
    s = Session(server)
    t = FakeTransport()
    s.transport = t  # type: ignore[assignment]
    return s, t


def errors(t: FakeTransport) -> list[tuple[int, str]]:
    """(code, text) of every error message the client received."""
    msgs = [split_fields(p) for p in FrameReader().feed(bytes(t.data))]
    return [(int(m[3]), m[4]) for m in msgs if m[0] == ERR_MSG]


def connect(server: Server, client_ids: range) -> list[tuple[Session, FakeTransport]]:
    out = []
    for cid in client_ids:
        s, t = session(server)
        server.start_api(s, cid)
        out.append((s, t))
    return out


def new_server() -> Server:
    return Server(Config(start=pd.Timestamp(SESSION).to_pydatetime()))


def test_the_33rd_api_client_gets_326_naming_the_cap_and_its_socket_closed() -> None:
    async def scenario() -> None:
        server = new_server()
        admitted = connect(server, range(1, MAX_API_CLIENTS + 1))
        extra, extra_t = session(server)
        server.start_api(extra, 500)
        await asyncio.sleep(0)  # the sessions' writes go out on the next turn of the loop
        assert len(server.sessions) == MAX_API_CLIENTS
        assert all(s.stage == "ready" and not t.closed for s, t in admitted)
        assert 500 not in server.sessions and extra.stage == "closed" and extra_t.closed
        [(code, text)] = [e for e in errors(extra_t) if e[0] < 2100]
        assert code == 326
        assert f"maximum of {MAX_API_CLIENTS} API clients" in text
        assert "client id is already in use" not in text

    asyncio.run(scenario())


def test_a_client_that_leaves_frees_its_place_for_the_next() -> None:
    async def scenario() -> None:
        server = new_server()
        admitted = connect(server, range(1, MAX_API_CLIENTS + 1))
        gone, _ = admitted[7]
        server.forget(gone)  # what connection_lost does
        [(late, late_t)] = connect(server, range(500, 501))
        await asyncio.sleep(0)
        assert late.stage == "ready" and not late_t.closed
        assert server.sessions[500] is late and len(server.sessions) == MAX_API_CLIENTS

    asyncio.run(scenario())


def test_a_client_id_in_use_is_refused_as_in_use_before_the_cap_is_reached() -> None:
    async def scenario() -> None:
        server = new_server()
        connect(server, range(1, 4))
        [(dup, dup_t)] = connect(server, range(2, 3))
        await asyncio.sleep(0)
        assert dup.stage == "closed" and dup_t.closed
        assert [c for c, text in errors(dup_t)] == [326]
        assert "client id is already in use" in errors(dup_t)[0][1]

    asyncio.run(scenario())
