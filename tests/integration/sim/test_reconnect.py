"""Recovery from venue faults (README, "Order lifecycle and recovery guarantees"): reconnect with
capped exponential backoff and jitter; 326 retried with the same clientId, never another; on
1101, and after a Gateway's nightly restart, market data is subscribed again.

The backoff schedule is checked with an injected random source. The rest runs against a real
simulator: `ats.ib.adapter.connect` (the connect loop of the strategy hosts and the broker) with a
real ib_async client, and the real strategy host (`ats.host.main.Host.run`) with a probe strategy.
The host's manager and broker are small ROUTER stubs (bus.service) answering only what the host
asks them: its registry entry and an empty book.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostharness import CONDITION_TIMEOUT, HostHarness, temp_root, wait_until
from ib_async import IB
from pinned import SESSION

from ats.ib import adapter
from ats.sim.process import SimProcess

SPEED = 10.0  #: five-second bars every half second
STRATEGY = "probe"
PROBE_CLIENT_ID = 141

PROBE_STRATEGY = '''
"""Subscribes to 5-second SPY bars and remembers the time of every bar it gets."""
from dataclasses import dataclass

from ats.sdk import Bar, BarSpec, Params, Stock, Strategy


@dataclass(frozen=True)
class ProbeParams(Params):
    pass


class Probe(Strategy[ProbeParams]):
    params_type = ProbeParams
    description = "records the bars it is given"

    def subscriptions(self):
        return [BarSpec(Stock("SPY"), "5s", lookback=0)]

    def on_init(self):
        self.seen = []

    def on_bar(self, bar: Bar):
        self.seen.append(bar.time)
'''


# -- the backoff schedule -------------------------------------------------------------------

class Edge:
    """A random source that always draws the lowest (or highest) value of the range."""

    def __init__(self, high: bool) -> None:
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def delays(n: int, base: float = 0.5, cap: float = 10.0) -> list[float]:
    backoff = adapter.Backoff(base, cap)
    return [backoff.next() for _ in range(n)]


def test_backoff_grows_by_doubling_from_the_base_until_the_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "random", Edge(high=True))
    assert delays(8) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert delays(4, base=1.0, cap=3.0) == [1.0, 2.0, 3.0, 3.0]


def test_backoff_jitter_never_goes_below_half_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "random", Edge(high=False))
    assert delays(8) == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_backoff_delays_stay_within_half_to_full_step_for_any_draw(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "random", random.Random(20261118))
    for _ in range(200):
        for attempt, delay in enumerate(delays(12)):
            step = min(10.0, 0.5 * 2 ** attempt)
            assert step / 2 <= delay <= step, (attempt, delay)


def test_backoff_jitter_varies_between_clients_and_attempts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "random", random.Random(7))
    runs = [delays(10) for _ in range(20)]
    # twenty clients retrying at once do not retry in lockstep
    for attempt in range(10):
        assert len({run[attempt] for run in runs}) == len(runs), attempt
    # at the cap, the delays still differ from one attempt to the next
    capped = [d for run in runs for d in run[6:]]
    assert len(set(capped)) == len(capped)
    assert max(capped) - min(capped) > 1.0


def test_backoff_reset_starts_again_from_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "random", Edge(high=True))
    backoff = adapter.Backoff()
    for _ in range(6):
        backoff.next()
    backoff.reset()
    assert [backoff.next(), backoff.next()] == [0.5, 1.0]


# -- helpers for the simulator tests ---------------------------------------------------------

@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(seed=11, speed=SPEED, start=SESSION) as proc:
        yield proc


def client_ids_seen_by(sim: SimProcess) -> list[int]:
    """Every clientId the simulator was asked to start an API session for, in order."""
    ids = []
    for line in list(sim.stderr_lines):
        m = re.search(r"client id (\d+) in use; refusing|client (\d+) connected from", line)
        if m:
            ids.append(int(m.group(1) or m.group(2)))
    return ids


class RecordingIB(IB):
    """ib_async's IB, remembering the clientId of every connection attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.attempted_ids: list[int] = []
        self.error_codes: list[int] = []
        self.errorEvent += lambda _req, code, _msg, _contract: self.error_codes.append(code)

    async def connectAsync(self, *args: Any, **kwargs: Any) -> Any:
        self.attempted_ids.append(int(kwargs["clientId"]))
        return await super().connectAsync(*args, **kwargs)


# -- 326: clientId in use --------------------------------------------------------------------

def test_client_id_in_use_is_retried_with_the_same_id_until_it_is_free() -> None:
    client_id = 77

    async def scenario(sim: SimProcess) -> None:
        retries: list[tuple[int, float]] = []
        holder, ib = IB(), RecordingIB()
        await holder.connectAsync(sim.host, sim.port, clientId=client_id, timeout=10)
        connecting = asyncio.ensure_future(adapter.connect(
            ib, sim.host, sim.port, client_id, timeout=2.0,
            on_retry=lambda attempt, _exc, delay: retries.append((attempt, delay))))
        try:
            await wait_until(lambda: connecting.done() or (
                len(retries) >= 2 and ib.error_codes.count(326) >= 2),
                "two connection attempts refused with 326")
            assert set(ib.attempted_ids) == {client_id}, ib.attempted_ids
            assert not connecting.done(), "connected while the clientId was held"
            holder.disconnect()
            await asyncio.wait_for(connecting, CONDITION_TIMEOUT)

            assert ib.isConnected() and ib.client.clientId == client_id
            assert len(ib.attempted_ids) >= 3
            assert set(ib.attempted_ids) == {client_id}
            assert [attempt for attempt, _ in retries] == list(range(1, len(retries) + 1))
            # server side: the holder, two or more refusals, then the connection; no other id
            await wait_until(lambda: client_ids_seen_by(sim).count(client_id) >= 4,
                             "the simulator's log of the holder and every attempt")
            assert set(client_ids_seen_by(sim)) == {client_id}
            status = await asyncio.to_thread(sim.admin.call, "status")
            assert status["clients"] == [client_id]
        finally:
            if not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connecting
            holder.disconnect()
            ib.disconnect()

    # its own simulator, so that its log holds this test's connections only
    with SimProcess(seed=11, start=SESSION) as sim:
        asyncio.run(scenario(sim))


# -- resubscription: the real strategy host --------------------------------------------------

@pytest.fixture
def root() -> Iterator[Path]:
    with temp_root() as path:
        yield path


def test_host_resubscribes_bars_after_1101_connectivity_restored_data_lost(
        sim: SimProcess, root: Path) -> None:
    async def scenario() -> None:
        harness = HostHarness(sim, root, PROBE_STRATEGY, name=STRATEGY,
                              client_id=PROBE_CLIENT_ID, speed=SPEED)
        try:
            host = await harness.start()
            before = harness.req_ids()
            at_1101: list[int] = []  #: how many bars the probe had when 1101 arrived

            def on_error(_req: int, code: int, _msg: str, _contract: Any) -> None:
                if code == adapter.RESTORED_DATA_LOST:
                    at_1101.append(len(harness.seen))

            host.ib.errorEvent += on_error
            await asyncio.to_thread(sim.admin.call, "outage", seconds=1, data_lost=True)
            await wait_until(lambda: bool(at_1101), "error 1101 at the host")
            await wait_until(lambda: len(harness.seen) >= at_1101[0] + 2,
                             "bars after 1101 (the lost subscriptions replaced)")
            assert host.gate.venue_state == "connected"
            assert harness.req_ids() and not harness.req_ids() & before
            assert host.ib.client.clientId == PROBE_CLIENT_ID
        finally:
            await harness.stop()

    asyncio.run(scenario())


def test_host_reconnects_and_resubscribes_bars_after_a_nightly_restart(
        sim: SimProcess, root: Path) -> None:
    async def scenario() -> None:
        harness = HostHarness(sim, root, PROBE_STRATEGY, name=STRATEGY,
                              client_id=PROBE_CLIENT_ID, speed=SPEED)
        try:
            host = await harness.start()
            at_drop: list[int] = []  #: how many bars the probe had when the venue dropped it
            host.ib.disconnectedEvent += lambda: at_drop.append(len(harness.seen))
            dropped = await asyncio.to_thread(sim.admin.call, "nightly_restart")
            assert dropped["dropped"] >= 1
            await wait_until(lambda: bool(at_drop), "the host's disconnection")
            await wait_until(lambda: host.gate.venue_state == "connected" and
                             len(harness.seen) >= at_drop[0] + 2,
                             "bars after the reconnection")
            assert host.ib.client.clientId == PROBE_CLIENT_ID
            assert PROBE_CLIENT_ID in sim.admin.call("status")["clients"]
        finally:
            await harness.stop()

    asyncio.run(scenario())
