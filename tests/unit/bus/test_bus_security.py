"""bus.security: CURVE keys on disk, an allow-listed ROUTER service over TCP on loopback, an
unknown key that gets nothing, a revoke that takes effect at the next handshake."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from bus import security
from bus.client import AsyncRequester
from bus.codec import Envelope, encode
from bus.errors import RequestTimeout
from bus.security import AllowList, Authenticator, Curve, KeyPair, Refusal, SecurityError
from bus.service import REQUEST_TYPE, Service, request_body

pytestmark = pytest.mark.timeout(60)

#: how long a refused client is given to get an answer it must never get
SILENCE = 1.0
WAIT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Keys:
    """A key folder with a server pair, an allowed client ``local`` and an unknown ``intruder``."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.allowed = folder, folder / "allowed"
        self.allowed.mkdir(parents=True)
        self.refusals: list[Refusal] = []
        self.server = self.pair("server")
        self.local = self.pair("local")
        self.intruder = self.pair("intruder")
        self.allow("local")

    def pair(self, name: str) -> KeyPair:
        _, secret = security.generate(self.folder, name)
        return security.load_pair(secret)

    def allow(self, name: str) -> None:
        security.write_public(self.allowed / f"{name}.key",
                              security.load_public(self.folder / f"{name}.key"))

    def curve(self, own: KeyPair) -> Curve:
        return Curve(own, self.server.public, self.server, self.allowed, self.refusals.append)


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    k = Keys(tmp_path / "keys")
    security.configure(k.curve(k.local))
    yield k
    security.configure(None)
    security.close()


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 50))  # type: ignore[arg-type]


async def serve(actx: zmq.asyncio.Context) -> tuple[Service, str, asyncio.Task[None]]:
    ep = f"tcp://127.0.0.1:{free_port()}"
    svc = Service(actx, ep, "calc")
    svc.register("add", lambda p: p["a"] + p["b"])
    svc.bind()
    return svc, ep, asyncio.ensure_future(svc.run())


async def raw_request(actx: zmq.asyncio.Context, ep: str, curve: Curve) -> bool:
    """Whether a DEALER holding ``curve``'s keys gets any answer within SILENCE."""
    sock = actx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    security.secure_client(sock, curve)
    sock.connect(ep)
    try:
        data = encode(Envelope(REQUEST_TYPE, "x", 1, 0.0, request_body("x:1", "ping", {})))
        await sock.send(data)
        return bool(await sock.poll(int(SILENCE * 1000)))
    finally:
        sock.close(linger=0)


async def plain_request(actx: zmq.asyncio.Context, ep: str) -> bool:
    """Whether a DEALER without CURVE sending garbage gets any answer within SILENCE."""
    sock = actx.socket(zmq.DEALER)
    sock.connect(ep)
    try:
        await sock.send(b"garbage")
        return bool(await sock.poll(int(SILENCE * 1000)))
    finally:
        sock.close(linger=0)


def test_key_files_are_0600_and_the_public_file_holds_no_secret(keys: Keys) -> None:
    for name in ("server.key", "server.key_secret", "allowed/local.key"):
        mode = stat.S_IMODE(os.stat(keys.folder / name).st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert "secret" not in (keys.allowed / "local.key").read_text()
    assert security.load_public(keys.allowed / "local.key") == keys.local.public


def test_a_missing_key_pair_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SecurityError, match=r"no CURVE key pair file .*nope\.key_secret") as e:
        security.load_pair(tmp_path / "nope.key_secret")
    assert "\n" not in str(e.value)


def test_an_allowed_key_talks_to_a_curve_service(keys: Keys) -> None:
    async def main() -> None:
        actx = zmq.asyncio.Context()
        svc, ep, task = await serve(actx)
        req = AsyncRequester(actx, ep, timeout=WAIT)
        try:
            assert await req.request("add", {"a": 2, "b": 3}) == 5
        finally:
            req.close()
            svc.stop()
            await task
            security.close()
            actx.term()
        assert keys.refusals == []

    run(main)


def test_an_unknown_key_gets_nothing_and_is_reported(keys: Keys) -> None:
    async def main() -> None:
        actx = zmq.asyncio.Context()
        svc, ep, task = await serve(actx)
        try:
            # an unknown key, and a client without CURVE at all, waited for side by side
            intruder, plain = await asyncio.gather(
                raw_request(actx, ep, keys.curve(keys.intruder)), plain_request(actx, ep))
            assert not intruder and not plain
        finally:
            svc.stop()
            await task
            security.close()
            actx.term()
        assert svc.stats["requests"] == 0
        assert [r.key for r in keys.refusals] == [keys.intruder.public.decode()]
        assert keys.refusals[0].address == "127.0.0.1"

    run(main)


def test_a_revoked_key_is_refused_at_its_next_handshake_and_an_allowed_one_admitted(
        keys: Keys) -> None:
    async def main() -> None:
        actx = zmq.asyncio.Context()
        svc, ep, task = await serve(actx)
        try:
            assert await raw_request(actx, ep, keys.curve(keys.local))
            (keys.allowed / "local.key").unlink()
            assert not await raw_request(actx, ep, keys.curve(keys.local))
            keys.allow("intruder")
            assert await raw_request(actx, ep, keys.curve(keys.intruder))
        finally:
            svc.stop()
            await task
            security.close()
            actx.term()
        assert [r.key for r in keys.refusals] == [keys.local.public.decode()]

    run(main)


def test_a_requester_to_a_refusing_service_times_out_cleanly(keys: Keys) -> None:
    async def main() -> None:
        actx = zmq.asyncio.Context()
        svc, ep, task = await serve(actx)
        (keys.allowed / "local.key").unlink()
        req = AsyncRequester(actx, ep, timeout=SILENCE)
        try:
            with pytest.raises(RequestTimeout):
                await req.request("add", {"a": 1, "b": 1})
        finally:
            req.close()
            svc.stop()
            await task
            security.close()
            actx.term()

    run(main)


def test_repeated_refusals_of_one_key_are_reported_once_a_window_with_their_count(
        tmp_path: Path) -> None:
    now = [1000.0]
    seen: list[Refusal] = []
    ctx: zmq.Context[Any] = zmq.Context()
    auth = Authenticator(ctx, AllowList(tmp_path), seen.append, clock=lambda: now[0])
    try:
        for _ in range(5):
            assert not auth.callback("*", b"k" * 40)
        now[0] += security.REFUSAL_REPEAT_SECONDS
        assert not auth.callback("*", b"k" * 40)
    finally:
        ctx.term()
    assert auth.refused == 6
    assert [r.count for r in seen] == [1, 5]


def test_the_allow_list_follows_its_folder(tmp_path: Path) -> None:
    allow = AllowList(tmp_path / "allowed")
    assert b"k" * 40 not in allow  # no folder yet: nobody
    (tmp_path / "allowed").mkdir()
    _, secret = security.generate(tmp_path, "peer")
    pair = security.load_pair(secret)
    security.write_public(tmp_path / "allowed" / "peer.key", pair.public)
    assert allow.name_of(pair.public) == "peer"
    (tmp_path / "allowed" / "peer.key").unlink()
    assert pair.public not in allow
