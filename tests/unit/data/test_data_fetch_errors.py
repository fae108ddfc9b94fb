"""A historical request fails on its own errors only (the broker's connection hears every
client's order errors)."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest
from eventkit import Event

from ats.data.fetch import FetchError, HistoricalFetcher
from ats.data.pacing import HistoricalPacer
from ats.sdk.instrument import Instrument

SPY = Instrument("SPY")
END = pd.Timestamp("2026-11-18 21:00", tz="UTC")


class FakeIB:
    """Answers reqHistoricalDataAsync after emitting `errors` (contract None: ours)."""

    def __init__(self, errors: list[tuple[int, int, str, Any]]) -> None:
        self.errorEvent = Event("errorEvent")
        self.errors = errors

    async def reqHistoricalDataAsync(self, contract: Any, **_: Any) -> list[Any]:
        await asyncio.sleep(0)
        for req_id, code, text, about in self.errors:
            self.errorEvent.emit(req_id, code, text, contract if about is None else about)
        await asyncio.sleep(0.05)
        return []


def fetch(errors: list[tuple[int, int, str, Any]]) -> pd.DataFrame:
    ib = FakeIB(errors)
    fetcher = HistoricalFetcher(ib, store=None, pacer=HistoricalPacer(), timeout=5)  # type: ignore[arg-type]
    return asyncio.run(fetcher.request(object(), SPY, "1d", END, "1 D"))


def test_an_order_error_of_another_client_does_not_fail_the_request() -> None:
    other_order = object()
    assert fetch([(42, 201, "Order rejected - reason: margin", other_order)]).empty


def test_an_error_naming_the_requests_contract_fails_it_with_its_code() -> None:
    with pytest.raises(FetchError) as caught:
        fetch([(7, 162, "Historical Market Data Service error message:pacing", None)])
    assert caught.value.code == 162
