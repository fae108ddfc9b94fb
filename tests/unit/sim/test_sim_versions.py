"""Version negotiation, and message layouts that follow the negotiated server version.

ib_async's decoder speaks 157..178 and branches where layouts changed (163, 164, 166, 170,
176), so it checks those versions here; the official ibapi checks 100..157 in
tests/integration/sim/test_conformance.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ib_async.decoder import Decoder
from simkit import WrapperRecorder

from ats.sim import messages as M
from ats.sim import versions as V
from ats.sim.account import STOCK_MARGIN, Account
from ats.sim.handlers import HANDLERS
from ats.sim.market import Bar
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.protocol import frame, split_fields
from ats.sim.universe import Universe
from ats.sim.unsupported import IGNORED, REFUSED, refusal_req_id
from ats.sim.whatif import MAINT_OF_INIT, preview

SPY = Universe().by_symbol("SPY")
assert SPY is not None
IB_ASYNC_VERSIONS = [157, 163, 164, 166, 170, 176]


def _decode(fields: list[object], v: int) -> tuple[str, tuple[Any, ...]]:
    rec = WrapperRecorder()
    Decoder(rec, v).interpret(split_fields(frame(fields)[4:]))  # type: ignore[arg-type]
    assert rec.calls, f"decoder at {v} did not call the wrapper"
    return rec.calls[-1]


@pytest.mark.parametrize(("offer", "version", "accepted"), [
    ("v100..157", 157, True),
    ("v157..176", 176, True),
    ("v157..178", 176, True),
    ("v100..176 +PACEAPI", 176, True),
    ("v130", 130, True),
    ("v177..190", 176, False),  # newer than the simulator: its own version, then closed
    ("v50..99", 100, False),
])
def test_negotiate_picks_the_highest_common_version(offer: str, version: int,
                                                    accepted: bool) -> None:
    hs = V.negotiate(offer)
    assert hs is not None and (hs.version, hs.accepted) == (version, accepted)


@pytest.mark.parametrize("offer", ["", "176", "v", "vabc", "v157..100"])
def test_negotiate_rejects_what_is_not_a_version_range(offer: str) -> None:
    assert V.negotiate(offer) is None


@pytest.mark.parametrize("v", IB_ASYNC_VERSIONS)
def test_error_message_decodes_at_every_version(v: int) -> None:
    name, args = _decode(M.error(7, 200, "No security definition", v), v)
    assert name == "error" and args[:3] == (7, 200, "No security definition")


def test_error_message_has_the_advanced_reject_field_only_from_166() -> None:
    assert len(M.error(1, 200, "x", 157)) == 5  # ibapi 9.81 maps exactly 3 arguments
    assert len(M.error(1, 200, "x", 166)) == 6


@pytest.mark.parametrize("v", IB_ASYNC_VERSIONS)
def test_contract_details_decode_at_every_version(v: int) -> None:
    assert SPY is not None
    name, (req_id, cd) = _decode(M.contract_data(5, SPY, "SMART", v), v)
    assert name == "contractDetails" and req_id == 5
    assert cd.contract.conId == SPY.con_id and cd.contract.primaryExchange == "ARCA"
    assert cd.minTick == 0.01 and cd.stockType == "COMMON"


def test_contract_details_carry_a_version_field_until_size_rules() -> None:
    assert SPY is not None
    assert M.contract_data(5, SPY, "SMART", 157)[:3] == [M.Out.CONTRACT_DATA, 8, 5]
    assert M.contract_data(5, SPY, "SMART", 164)[:2] == [M.Out.CONTRACT_DATA, 5]


@pytest.mark.parametrize("v", IB_ASYNC_VERSIONS)
def test_open_order_and_completed_order_decode_at_every_version(v: int) -> None:
    assert SPY is not None
    o = SimOrder(3, 17, 1001, "DU1", SPY.con_id, "BUY", 100.0, "LMT", 10.5, None, "GTC",
                 order_ref="strat-a")
    name, (order_id, contract, order, state) = _decode(M.open_order(o, SPY, v), v)
    assert (name, order_id, order.orderRef, order.totalQuantity) == \
        ("openOrder", 17, "strat-a", 100.0)
    assert contract.conId == SPY.con_id and state.status == o.status
    o.status = "Filled"
    name, (_, order, state) = _decode(M.completed_order(o, SPY, v), v)
    assert name == "completedOrder" and order.orderRef == "strat-a"


def test_quantities_and_sizes_are_integers_where_ibapi_reads_integers() -> None:
    assert SPY is not None
    bar = Bar(0.0, 1.0, 2.0, 0.5, 1.5, 1234.0, 1.2, 10)
    assert M.tick_size(1, 0, 300.0, 157)[-1] == 300
    assert M.tick_price(1, 1, 10.0, 300.0, 176)[5] == 300.0
    assert M.historical_data(1, "a", "b", [bar], True, 1, "UTC", 157)[-3] == 1234
    assert M.position("DU1", SPY, 10.0, 5.0, 100)[-2] == 10


def test_historical_data_before_synthetic_bars_has_a_version_and_gap_fields() -> None:
    bar = Bar(0.0, 1.0, 2.0, 0.5, 1.5, 1234.0, 1.2, 10)
    old = M.historical_data(1, "a", "b", [bar], True, 1, "UTC", 120)
    new = M.historical_data(1, "a", "b", [bar], True, 1, "UTC", 124)
    assert old[1] == 3 and "false" in old
    assert len(old) == len(new) + 2


def test_exec_details_follow_last_liquidity_and_models_support() -> None:
    assert SPY is not None
    e = SimExecution(exec_id="0001.01", perm_id=1001, order_id=17, client_id=3,
                     account="DU1", con_id=SPY.con_id, side="BOT", shares=10.0, price=10.0,
                     time=1.8e9, cum_qty=10.0, avg_price=10.0, order_ref="ref",
                     commission=1.0, realized_pnl=0.0, currency="USD", exchange="ARCA")
    at_176 = M.exec_details(-1, e, SPY, 176)
    assert len(M.exec_details(-1, e, SPY, 135)) == len(at_176)  # version in, liquidity out
    assert len(M.exec_details(-1, e, SPY, 102)) == len(at_176) - 1  # no modelCode
    name, (req_id, _, ex) = _decode(at_176, 176)
    assert (name, req_id, ex.orderRef) == ("execDetails", -1, "ref")


def test_refusals_carry_the_request_id_from_where_each_request_puts_it() -> None:
    fundamentals = ["52", "2", "41", "756733"]
    assert refusal_req_id(REFUSED[52], fundamentals, 176) == 41
    scanner_new, scanner_old = ["22", "42", "10"], ["22", "4", "42", "10"]
    assert refusal_req_id(REFUSED[22], scanner_new, 176) == 42
    assert refusal_req_id(REFUSED[22], scanner_old, 140) == 42
    assert refusal_req_id(REFUSED[18], ["18", "1", "1"], 176) == -1


def test_the_request_table_in_the_readme_matches_the_dispatch_tables() -> None:
    readme = Path(__file__).parents[3] / "ats" / "sim" / "README.md"
    rows: dict[int, str] = {}
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = cells[2]
    assert set(rows) == set(HANDLERS) | set(REFUSED) | set(IGNORED)
    for msg_id, answer in rows.items():
        if msg_id in HANDLERS:
            assert answer in ("supported", "minimal"), msg_id
        elif msg_id in REFUSED:
            assert answer == f"error {REFUSED[msg_id].code}", msg_id
        else:
            assert answer == "ignored", msg_id


def test_what_if_preview_adds_the_orders_margin_and_charges_only_commission() -> None:
    assert SPY is not None
    summary = {"InitMarginReq": 1000.0, "EquityWithLoanValue": 50_000.0}
    pv = preview(Account("DU1"), summary, SPY, "BUY", 100, 500.0, "202611")
    assert pv.init_after == pytest.approx(1000.0 + 100 * 500.0 * STOCK_MARGIN)
    assert pv.maint_after == pytest.approx(pv.init_after * MAINT_OF_INIT)
    assert pv.commission == pytest.approx(0.35) and pv.currency == "USD"
    assert pv.equity_after == pytest.approx(50_000.0 - 0.35)
    assert len(pv.order_state_fields(141)) == 8 and len(pv.order_state_fields(142)) == 14
