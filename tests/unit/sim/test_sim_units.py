"""Unit tests of the simulator's pure parts: wire messages, expiries, commissions,
account arithmetic and market determinism."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ib_async.decoder import Decoder
from simkit import WrapperRecorder

from ats.sim import messages as M
from ats.sim.account import Account
from ats.sim.commissions import fill_commission
from ats.sim.market import Market
from ats.sim.orders import OrderStatus, SimExecution, SimOrder
from ats.sim.protocol import FrameReader, frame, split_fields
from ats.sim.universe import Universe, vix_expiry

UNIVERSE = Universe()
SPY = UNIVERSE.by_symbol("SPY")


def _decode(fields: list[object]) -> tuple[str, tuple[Any, ...]]:
    rec = WrapperRecorder()
    Decoder(rec, 176).interpret(split_fields(frame(fields)[4:]))  # type: ignore[arg-type]
    assert rec.calls, "decoder did not call the wrapper"
    return rec.calls[-1]


def _order(**kw: Any) -> SimOrder:
    assert SPY is not None
    base = dict(client_id=3, order_id=17, perm_id=1001, account="DU1", con_id=SPY.con_id,
                action="BUY", total_qty=100.0, order_type="LMT", lmt_price=10.5,
                aux_price=None, tif="GTC", order_ref="strat-a")
    base.update(kw)
    return SimOrder(**base)  # type: ignore[arg-type]


def test_open_order_decodes_with_order_ref_perm_id_and_status() -> None:
    assert SPY is not None
    name, (order_id, contract, order, state) = _decode(M.open_order(_order(), SPY))
    assert name == "openOrder" and order_id == 17 and contract.conId == SPY.con_id
    assert (order.orderRef, order.permId, order.clientId) == ("strat-a", 1001, 3)
    assert order.adjustedOrderType == "None" and state.status == "Submitted"


def test_completed_order_decodes_filled_quantity_and_status() -> None:
    assert SPY is not None
    o = _order(status=OrderStatus.FILLED, filled=100.0, completed_time=1.7e9,
               completed_status="Filled")
    name, (_, order, state) = _decode(M.completed_order(o, SPY))
    assert name == "completedOrder" and order.filledQuantity == 100.0
    assert state.status == "Filled" and state.completedStatus == "Filled"
    assert order.orderRef == "strat-a"


def test_exec_details_and_commission_report_decode() -> None:
    assert SPY is not None
    e = SimExecution("x.1", 1001, 17, 3, "DU1", SPY.con_id, "BOT", 100.0, 10.5, 1.7e9, 100.0,
                     10.5, "strat-a", 0.35, 0.0, "USD", "ARCA")
    name, (req_id, _, ex) = _decode(M.exec_details(-1, e, SPY))
    assert name == "execDetails" and req_id == -1 and ex.permId == 1001
    assert ex.orderRef == "strat-a" and ex.time.year == 2023
    name, (report,) = _decode(M.commission_report(e))
    assert name == "commissionReport" and report.commission == 0.35


def test_frame_reader_splits_partial_frames() -> None:
    reader = FrameReader()
    data = frame([1, "a"]) + frame([2, "b"])
    assert reader.feed(data[:5]) == []
    out = reader.feed(data[5:])
    assert [split_fields(p) for p in out] == [["1", "a"], ["2", "b"]]


@pytest.mark.parametrize("year,month,expected", [
    (2024, 3, dt.date(2024, 3, 20)),
    (2025, 3, dt.date(2025, 3, 18)),  # April 18 2025 is Good Friday
    (2024, 11, dt.date(2024, 11, 20)),
])
def test_vix_future_expiry_rule(year: int, month: int, expected: dt.date) -> None:
    assert vix_expiry(year, month) == expected


def test_commission_minimum_applies_once_per_order() -> None:
    assert SPY is not None
    first = fill_commission(SPY, 0, 0, 10, 1000.0, 0)
    second = fill_commission(SPY, 10, 1000.0, 90, 9000.0, 0)
    assert first == 0.35 and second == pytest.approx(0.0)
    assert fill_commission(SPY, 0, 0, 1000, 100000.0, 0) == pytest.approx(3.5)


def test_account_cash_and_realized_pnl_agree_with_fills() -> None:
    assert SPY is not None
    acc = Account("DU1", {"USD": 100_000.0})
    acc.apply_fill(SPY, 100, 10.0, 1.0, "202601")
    realized = acc.apply_fill(SPY, -40, 12.0, 0.5, "202601")
    assert acc.cash["USD"] == pytest.approx(100_000 - 1000 - 1.0 + 480 - 0.5)
    assert acc.positions[SPY.con_id].avg_cost == pytest.approx(10.01)
    assert realized == pytest.approx(40 * (12.0 - 10.01) - 0.5)


def test_market_is_deterministic_for_a_seed() -> None:
    assert SPY is not None
    ts = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC).timestamp()
    a, b, c = Market(UNIVERSE, 5), Market(UNIVERSE, 5), Market(UNIVERSE, 6)
    assert a.quote(SPY, ts) == b.quote(SPY, ts)
    assert a.quote(SPY, ts) != c.quote(SPY, ts)
    bars = a.daily_bars(SPY, dt.date(2026, 3, 1), 3700, "TRADES", ts)
    assert len(bars) > 2500


def test_stored_prices_continue_synthetically_past_the_last_stored_bar() -> None:
    import numpy as np

    market = Market(UNIVERSE, seed=1)
    day = dt.datetime(2026, 11, 16, tzinfo=dt.UTC).timestamp()
    times = np.array([day, day + 86400])  # two daily bars: Monday and Tuesday
    values = np.array([[100.0, 101, 99, 100.5, 1e6], [100.5, 102, 100, 101.0, 1e6]])
    market.overrides[("SPY", "1d")] = (times, values)
    end = day + 2 * 86400
    assert market.mid(SPY, end - 1) == 101.0  # inside the stored history: the stored close
    assert market.mid(SPY, end) == pytest.approx(101.0)  # joins it without a jump
    later = [market.mid(SPY, end + h * 3600) for h in range(1, 30)]
    assert len(set(later)) == len(later)  # and keeps moving: no frozen price
    assert all(80 < p < 125 for p in later)
    bars = market.daily_bars(SPY, dt.date(2026, 11, 20), 10, "TRADES", end + 3 * 86400)
    assert [b.close for b in bars[:2]] == [100.5, 101.0]
    assert len(bars) == 5 and bars[2].time == end  # Wed, Thu, Fri after the stored days
    assert bars[2].open == pytest.approx(101.0, rel=0.03)
