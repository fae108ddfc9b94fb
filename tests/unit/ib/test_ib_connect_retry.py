"""adapter.connect retries a refused connection, and the retry is not logged as an ERROR."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from ats.ib import adapter


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connect_is_retried_and_logged_as_warnings_not_errors(
        caplog: pytest.LogCaptureFixture) -> None:
    retries: list[int] = []

    async def attempt() -> None:
        stop = asyncio.Event()

        def on_retry(n: int, exc: BaseException, delay: float) -> None:
            retries.append(n)
            if n >= 2:
                stop.set()

        with pytest.raises(asyncio.CancelledError):
            await adapter.connect(adapter.IB(), "127.0.0.1", _closed_port(), 1, timeout=2.0,
                                  stop=stop, on_retry=on_retry)

    with caplog.at_level(logging.INFO):
        asyncio.run(attempt())
    assert retries == [1, 2]
    failed = [r for r in caplog.records if r.getMessage().startswith("API connection failed")]
    assert len(failed) == 2 and all(r.levelname == "WARNING" for r in failed)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
