"""keepUpToDate: the forming bar is sent every few seconds, built only from what has
happened so far, and ends with the values a later history request gives for it."""

from __future__ import annotations

import pytest
from ib_async import IB, BarData, BarDataList, Contract
from pinned import SESSION

from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(90)


def _wait(ib: IB, cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    waited = 0.0
    while not cond() and waited < timeout:
        ib.sleep(0.05)
        waited += 0.05
    return bool(cond())


def test_keep_up_to_date_updates_the_forming_bar_without_look_ahead() -> None:
    with SimProcess(seed=5, speed=10.0, start=SESSION) as sim:  # a minute bar in 6 s
        ib = IB()
        ib.connect(sim.host, sim.port, clientId=1, timeout=10)
        try:
            spy = Contract(conId=756733, exchange="SMART")
            ib.qualifyContracts(spy)
            hist = ib.reqHistoricalData(spy, "", "1800 S", "1 min", "TRADES", False,
                                        formatDate=2, keepUpToDate=True)
            first: BarData = hist[-1]
            seen: list[BarData] = []

            def on_update(bars: BarDataList, has_new_bar: bool) -> None:
                seen.append(bars[-1])

            hist.updateEvent += on_update
            # Follow one whole bar: from its first update to the next bar's first.
            assert _wait(ib, lambda: any(b.date > first.date for b in seen), 15)
            target = next(b.date for b in seen if b.date > first.date)
            assert _wait(ib, lambda: any(b.date > target for b in seen), 15)
            forming = [b.volume for b in seen if b.date == target]
            assert len(forming) >= 3  # updates inside the forming bar
            assert forming == sorted(forming) and forming[0] < forming[-1]
            later = ib.reqHistoricalData(spy, "", "1800 S", "1 min", "TRADES", False,
                                         formatDate=2)
            done = {b.date: b for b in later}
            final = [b for b in seen if b.date == target][-1]
            assert (final.open, final.close, final.volume) == \
                (done[target].open, done[target].close, done[target].volume)
            assert first.volume < done[first.date].volume  # the first answer: no look-ahead
        finally:
            ib.disconnect()
