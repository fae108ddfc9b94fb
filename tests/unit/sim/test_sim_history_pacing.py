"""The simulator answers error 162 to historical requests that break IB's pacing rules, on its
own clock (a ManualClock here), across all its clients; a paced sequence is never refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from simkit import ManualClock

from ats.data.pacing import PACING_VIOLATION, HistoricalPacer, HistRequest
from ats.sim.hist_pacing import HistoryPacing
from ats.sim.history import HistoryError

START = "2026-11-18T15:00:00+00:00"


def req(con_id: str = "756733", end: str = "", duration: str = "1 D", what: str = "TRADES",
        bar: str = "1 min") -> HistRequest:
    return HistRequest(con_id, "SMART", what, bar, duration, end)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def pacing(clock: ManualClock) -> HistoryPacing:
    return HistoryPacing(clock.timestamp)


def advance(clock: ManualClock, seconds: float) -> None:
    clock.t += seconds


def refused(pacing: HistoryPacing, r: HistRequest) -> bool:
    try:
        pacing.check(r)
    except HistoryError as exc:
        assert (exc.code, exc.text) == (162, PACING_VIOLATION)
        return True
    return False


def test_identical_request_within_15_s_is_refused_and_allowed_after(
        pacing: HistoryPacing, clock: ManualClock) -> None:
    assert not refused(pacing, req())
    advance(clock, 14.9)
    assert refused(pacing, req())
    advance(clock, 0.1)  # 15 s after the one that was answered
    assert not refused(pacing, req())


def test_a_different_duration_is_not_identical(pacing: HistoryPacing, clock: ManualClock) -> None:
    assert not refused(pacing, req(duration="1 D"))
    advance(clock, 1.0)
    assert not refused(pacing, req(duration="2 D"))


def test_sixth_request_for_one_contract_within_2_s_is_refused(
        pacing: HistoryPacing, clock: ManualClock) -> None:
    for i in range(5):
        assert not refused(pacing, req(end=f"20261117-1{i}:00:00"))
        advance(clock, 0.3)
    assert refused(pacing, req(end="20261117-19:00:00"))
    assert not refused(pacing, req(con_id="8314", end="20261117-19:00:00")), \
        "another contract is not limited by this one's requests"
    advance(clock, 2.0 - 5 * 0.3 + 0.01)  # the first of the five is now 2 s old
    assert not refused(pacing, req(end="20261117-19:00:00"))


def test_bid_ask_counts_twice_for_the_same_contract_rule(
        pacing: HistoryPacing, clock: ManualClock) -> None:
    for i in range(2):
        assert not refused(pacing, req(what="BID_ASK", end=f"20261117-1{i}:00:00"))
    assert not refused(pacing, req(what="BID_ASK", end="20261117-12:00:00",
                                   con_id="8314")), "another contract"
    assert refused(pacing, req(what="BID_ASK", end="20261117-12:00:00")), \
        "three BID_ASK requests count as six"


def test_sixty_first_request_within_10_minutes_is_refused(
        pacing: HistoryPacing, clock: ManualClock) -> None:
    for i in range(60):
        assert not refused(pacing, req(con_id=str(1000 + i)))
        advance(clock, 5.0)  # 60 requests over 300 s
    assert refused(pacing, req(con_id="2000"))
    advance(clock, 600.0 - 300.0 + 0.01)  # the first request is 10 minutes old
    assert not refused(pacing, req(con_id="2000"))
    assert refused(pacing, req(con_id="2001")), "the second is still inside the window"


def test_a_refused_request_is_not_counted(pacing: HistoryPacing, clock: ManualClock) -> None:
    assert not refused(pacing, req())
    for _ in range(3):
        advance(clock, 4.9)
        assert refused(pacing, req())
    advance(clock, 0.31)  # 15 s after the answered one, though 0.31 s after a refusal
    assert not refused(pacing, req())


def test_switched_off_every_request_is_answered(clock: ManualClock) -> None:
    pacing = HistoryPacing(clock.timestamp, enabled=False)
    for _ in range(100):
        assert not refused(pacing, req())


def test_requests_the_client_pacer_lets_out_are_never_refused(
        pacing: HistoryPacing, clock: ManualClock) -> None:
    """The client's HistoricalPacer waits on the same clock: 150 requests, identical ones,
    bursts on one contract, BID_ASK, and more than 60 in ten minutes all pass."""
    pacer = HistoricalPacer(clock=clock.timestamp,
                            sleep=lambda s: advance(clock, s), margin=0.0)
    sequence = [req(con_id=str(c % 4), end=f"20261117-{h:02d}:00:00",
                    what="BID_ASK" if c % 7 == 0 else "TRADES")
                for c in range(50) for h in (10, 11)] + [req()] * 10 + \
               [req(con_id=str(c)) for c in range(40)]
    for r in sequence:
        pacer.acquire(r)
        assert not refused(pacing, r), r
    assert pacing.violations == 0
    assert clock.t - ManualClock(START).t > 600, "the sequence needed the 10-minute rule"


def test_the_config_switch_reaches_the_simulators_command_line(tmp_path: Path) -> None:
    from ats import config
    from ats.manager.venuesims import sim_args

    assert "--history-pacing" in sim_args(config.init_home(tmp_path / "on"))
    off = config.init_home(tmp_path / "off", {"sim": {"history_pacing": False}})
    assert "--no-history-pacing" in sim_args(off)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ats.toml").write_text('[sim]\nhistory_pacing = "yes"\n')
    with pytest.raises(config.ConfigError, match="history_pacing"):
        config.load(tmp_path / "bad")
