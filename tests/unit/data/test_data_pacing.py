"""HistoricalPacer keeps every request inside IB's historical pacing rules (fake clock)."""

from __future__ import annotations

import logging

import pytest

from ats.data.pacing import HistoricalPacer, HistRequest


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def req(contract: str = "SPY.STK", end: str = "20240101-00:00:00",
        duration: str = "365 D") -> HistRequest:
    return HistRequest(contract, "SMART", "TRADES", "1d", duration, end)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pacer(clock: FakeClock) -> HistoricalPacer:
    return HistoricalPacer(clock=clock, sleep=clock.sleep, margin=0.0)


def test_first_request_goes_without_waiting(pacer: HistoricalPacer, clock: FakeClock) -> None:
    assert pacer.acquire(req()) == 0.0
    assert clock.sleeps == []


def test_identical_request_waits_until_15_seconds_have_passed(
        pacer: HistoricalPacer, clock: FakeClock) -> None:
    pacer.acquire(req())
    clock.now += 4.0
    pacer.acquire(req())
    assert clock.sleeps == [pytest.approx(11.0)]


def test_identical_request_after_15_seconds_goes_at_once(
        pacer: HistoricalPacer, clock: FakeClock) -> None:
    pacer.acquire(req())
    clock.now += 15.0
    assert pacer.acquire(req()) == 0.0


def test_sixth_request_for_one_contract_within_2_seconds_waits(
        pacer: HistoricalPacer, clock: FakeClock) -> None:
    for n in range(5):
        pacer.acquire(req(end=f"2024010{n + 1}-00:00:00"))
        clock.now += 0.1
    assert clock.sleeps == []
    pacer.acquire(req(end="20240109-00:00:00"))
    # the first of the five was sent at 1000.0; the sixth may go at 1002.0
    assert clock.now == pytest.approx(1002.0)


def test_requests_for_other_contracts_do_not_count_against_the_2_second_rule(
        pacer: HistoricalPacer, clock: FakeClock) -> None:
    for n in range(10):
        pacer.acquire(req(contract=f"S{n}.STK"))
    assert clock.sleeps == []


def test_no_more_than_60_requests_in_10_minutes(pacer: HistoricalPacer,
                                                 clock: FakeClock) -> None:
    for n in range(60):
        pacer.acquire(req(contract=f"S{n}.STK"))
        clock.now += 1.0
    assert clock.sleeps == []
    pacer.acquire(req(contract="LAST.STK"))
    assert clock.now == pytest.approx(1600.0)
    times = pacer.sent_times()
    window = [t for t in times if t > clock.now - 600]
    assert len(window) <= 60


def test_sliding_windows_hold_over_a_long_paced_run(pacer: HistoricalPacer,
                                                     clock: FakeClock) -> None:
    for n in range(200):
        pacer.acquire(req(end=str(n % 3)))
    times = pacer.sent_times()
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 600) <= 60
        assert sum(1 for u in times[i:] if u < t + 2) <= 5


def test_waiting_is_logged(pacer: HistoricalPacer, clock: FakeClock,
                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ats.data.pacing")
    pacer.acquire(req())
    pacer.acquire(req())
    assert "identical request" in caplog.text


def test_preloaded_requests_of_an_earlier_run_count_against_the_10_minute_limit(
        pacer: HistoricalPacer, clock: FakeClock) -> None:
    pacer.preload([clock.now - 100.0] * 60)
    pacer.acquire(req())
    assert clock.now == pytest.approx(1500.0)


def test_async_acquire_waits_like_the_blocking_one(clock: FakeClock) -> None:
    import asyncio

    async def fake_sleep(seconds: float) -> None:
        clock.sleep(seconds)

    pacer = HistoricalPacer(clock=clock, async_sleep=fake_sleep, margin=0.0)

    async def go() -> None:
        await pacer.acquire_async(req())
        await pacer.acquire_async(req())

    asyncio.run(go())
    assert clock.sleeps == [pytest.approx(15.0)]
