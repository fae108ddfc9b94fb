"""ib_async against the real simulator: a historical request that breaks IB's pacing rules is
answered with error 162 and IB's text, carrying that request's id (the client's request ends),
across all the simulator's clients; `--no-history-pacing` answers every request."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from ib_async import IB, Stock
from pinned import SESSION

from ats.data.pacing import PACING_VIOLATION
from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(60)

_ids = itertools.count(400)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(seed=7, start=SESSION) as proc:
        yield proc


def connect(sim: SimProcess) -> IB:
    client = IB()
    client.connect(sim.host, sim.port, clientId=next(_ids), timeout=10)
    return client


class Errors:
    def __init__(self, ib: IB) -> None:
        self.seen: list[tuple[int, int, str]] = []
        ib.errorEvent += self.on_error

    def on_error(self, req_id: int, code: int, text: str, *_: Any) -> None:
        self.seen.append((req_id, code, text))

    def pacing(self) -> list[int]:
        return [r for r, code, text in self.seen if code == 162 and text == PACING_VIOLATION]


def history(ib: IB, contract: Any, duration: str, end: str = "") -> tuple[int, list[Any]]:
    """The request id ib_async gives the request, and the bars it returned."""
    req_id = ib.client._reqIdSeq
    bars = ib.reqHistoricalData(contract, end, duration, "1 min", "TRADES", False,
                                formatDate=2, timeout=10)
    return req_id, list(bars)


def test_identical_request_from_another_client_within_15_s_gets_162_with_its_id(
        sim: SimProcess) -> None:
    first, second = connect(sim), connect(sim)
    try:
        errors = Errors(second)
        [spy] = first.qualifyContracts(Stock("SPY", "SMART", "USD"))
        _, bars = history(first, spy, "1800 S")
        assert bars, "the first request is answered"
        req_id, again = history(second, spy, "1800 S")
        assert again == []
        assert errors.pacing() == [req_id]
    finally:
        first.disconnect()
        second.disconnect()


def test_sixth_request_for_one_contract_within_2_s_gets_162(sim: SimProcess) -> None:
    ib = connect(sim)
    try:
        errors = Errors(ib)
        [qqq] = ib.qualifyContracts(Stock("QQQ", "SMART", "USD"))
        answered = [history(ib, qqq, f"{60 * (i + 1)} S") for i in range(6)]
        assert [bool(bars) for _, bars in answered] == [True] * 5 + [False]
        assert errors.pacing() == [answered[5][0]]
    finally:
        ib.disconnect()


def test_without_history_pacing_identical_requests_are_answered() -> None:
    with SimProcess(seed=7, start=SESSION, extra_args=["--no-history-pacing"]) as sim:
        ib = connect(sim)
        try:
            errors = Errors(ib)
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            results = [history(ib, spy, "1800 S")[1] for _ in range(3)]
            assert all(results) and results[0] == results[2]
            assert errors.pacing() == []
        finally:
            ib.disconnect()
