from __future__ import annotations

import asyncio
import time
from typing import Any

from bus.heartbeat import Heartbeater
from bus.looplag import LoopLag


def test_take_returns_the_worst_lag_since_the_last_take() -> None:
    lag = LoopLag()
    for seconds in (0.001, 0.4, 0.002):
        lag.observe(seconds)
    assert lag.take() == 0.4
    assert lag.take() == 0.002  # the latest wake-up's lag starts the next window
    lag.observe(-0.001)  # a timer that fires early is no lag
    assert lag.last == 0.0


def test_a_blocked_loop_shows_as_lag() -> None:
    async def main() -> float:
        lag = LoopLag(interval=0.02)
        probe = asyncio.create_task(lag.run())
        await asyncio.sleep(0.1)
        lag.take()
        time.sleep(0.3)  # a callback that blocks the loop
        await asyncio.sleep(0.05)
        probe.cancel()
        return lag.take()

    worst = asyncio.run(main())
    assert 0.25 <= worst < 1.0


def test_an_idle_loop_has_almost_no_lag() -> None:
    async def main() -> float:
        lag = LoopLag(interval=0.01)
        probe = asyncio.create_task(lag.run())
        await asyncio.sleep(0.2)
        probe.cancel()
        assert lag.samples > 5
        return lag.take()

    assert asyncio.run(main()) < 0.1


class _Recorder:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def publish(self, topic: str, type: str, body: dict[str, Any]) -> int:
        self.bodies.append(body)
        return len(self.bodies)


def test_heartbeats_carry_the_worst_loop_lag_between_two_beats() -> None:
    rec = _Recorder()
    hb = Heartbeater(rec, "s1", interval=0.2)  # type: ignore[arg-type]

    async def main() -> None:
        task = asyncio.create_task(hb.run())
        await asyncio.sleep(0.3)
        time.sleep(0.25)  # block the loop between two beats
        await asyncio.sleep(0.3)
        hb.stop()
        await task

    asyncio.run(main())
    lags = [b["loop_lag_ms"] for b in rec.bodies if "loop_lag_ms" in b]
    assert lags and max(lags) >= 150.0
    assert min(lags) < 150.0
