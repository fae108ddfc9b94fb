"""Conformance of the real simulator with three unmodified clients: ib_async (here), ib_insync
0.9.86 and IB's official ibapi 9.81.1.post1 (each in its own venv, run as a script).

Each client covers handshake, contracts, market data, history, orders, executions, positions,
account and errors; ib_async also covers the requests a Gateway serves that the simulator
answers minimally or refuses, so that none leaves a client waiting.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ib_async import (
    IB,
    Contract,
    LimitOrder,
    MarketOrder,
    Stock,
    StopLimitOrder,
    StopOrder,
    TickByTickAllLast,
    TickByTickBidAsk,
)
from pinned import SESSION, THREAD_TIMERS

from ats.sim.process import SimProcess
from ats.sim.versions import MAX_VERSION

pytestmark = pytest.mark.timeout(120)

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
SPY_CON_ID = 756733


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    # These check the layout of every answer, not pacing (test_sim_history_pacing.py and
    # test_sim_pacing_ib_async.py do).
    with SimProcess(seed=13, start=SESSION, extra_args=["--no-history-pacing"]) as proc:
        yield proc


@pytest.fixture
def ib(sim: SimProcess) -> Iterator[IB]:
    client = IB()
    client.connect(sim.host, sim.port, clientId=61, timeout=10)
    yield client
    client.disconnect()


def _venv_python(env_var: str, venv: str) -> str | None:
    """`make test` names the venv it built; then a missing one is a failure, not a skip."""
    env = os.environ.get(env_var)
    if env:
        assert Path(env).exists(), f"{env_var}={env} does not exist"
        return env
    default = ROOT / venv / "bin" / "python"
    return str(default) if default.exists() else None


def _run_script(python: str, script: str, sim: SimProcess, *args: str) -> None:
    result = subprocess.run([python, str(HERE / script), sim.host, str(sim.port), *args],
                            capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# ---- handshake ---------------------------------------------------------------------------

def _handshake(sim: SimProcess, offer: str) -> tuple[list[str], bytes]:
    """Send `API\\0` and a version range; the answer's fields and what follows it."""
    with socket.create_connection((sim.host, sim.port), timeout=5) as sock:
        payload = offer.encode()
        sock.sendall(b"API\0" + struct.pack(">I", len(payload)) + payload)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
            chunk = sock.recv(4096)
            assert chunk, "connection closed before the handshake answer"
            data += chunk
        size = struct.unpack(">I", data[:4])[0]
        fields = data[4:4 + size].decode().split("\0")[:-1]
        sock.settimeout(0.3)
        try:
            after = sock.recv(4096)
        except TimeoutError:
            after = b"(open)"
        return fields, after


@pytest.mark.parametrize(("offer", "version"), [
    ("v100..157", 157),  # ibapi 9.81.1
    ("v157..176", 176),  # ib_insync 0.9.86
    ("v157..178", 176),  # ib_async 2.1
    ("v150..160 +PACEAPI", 160),
    ("v124", 124),
])
def test_handshake_answers_the_highest_version_both_sides_support(
        sim: SimProcess, offer: str, version: int) -> None:
    fields, after = _handshake(sim, offer)
    assert len(fields) == 2 and int(fields[0]) == version
    assert after == b"(open)"  # waiting for startApi


def test_handshake_refuses_a_client_newer_than_the_simulator_like_a_gateway(
        sim: SimProcess) -> None:
    fields, after = _handshake(sim, f"v{MAX_VERSION + 1}..{MAX_VERSION + 10}")
    assert int(fields[0]) == MAX_VERSION  # the Gateway's own version, which the client refuses
    assert after == b""  # and the connection is closed


def test_ib_async_refuses_the_simulator_when_it_needs_a_newer_version(
        sim: SimProcess, caplog: pytest.LogCaptureFixture) -> None:
    client = IB()
    client.client.MinClientVersion = MAX_VERSION + 1
    client.client.MaxClientVersion = MAX_VERSION + 5
    with pytest.raises((ConnectionError, TimeoutError)):
        client.connect(sim.host, sim.port, clientId=62, timeout=3)
    assert not client.isConnected()
    assert "TWS/gateway version must be >= 972" in caplog.text


# ---- ib_async ------------------------------------------------------------------------------

def test_ib_async_negotiates_the_simulators_newest_version(ib: IB) -> None:
    assert ib.client.serverVersion() == MAX_VERSION


def test_ib_async_core_requests_conform(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD")
    assert ib.qualifyContracts(spy) and spy.conId == SPY_CON_ID
    ticker = ib.reqMktData(spy)
    # the first quote of a day builds that day's prices: waited for, not a fixed sleep
    assert _wait(ib, lambda: ticker.bid > 0 and ticker.ask > ticker.bid and ticker.bidSize > 0)
    ib.cancelMktData(spy)
    bars = ib.reqHistoricalData(spy, "", "5 D", "1 day", "TRADES", True)
    assert len(bars) >= 4 and all(b.volume > 0 for b in bars)
    trade = ib.placeOrder(spy, MarketOrder("BUY", 5, orderRef="conf-async"))
    assert _wait(ib, lambda: trade.orderStatus.status == "Filled" and bool(trade.fills))
    assert trade.fills[0].commissionReport.commission > 0
    rest = ib.placeOrder(spy, LimitOrder("BUY", 1, round(ticker.bid * 0.5, 2)))
    assert _wait(ib, lambda: rest.orderStatus.status == "Submitted")
    rest.order.lmtPrice = round(ticker.bid * 0.4, 2)
    ib.placeOrder(spy, rest.order)
    assert _wait(ib, lambda: any(o.lmtPrice == rest.order.lmtPrice for o in ib.openOrders()))
    ib.cancelOrder(rest.order)
    assert _wait(ib, lambda: rest.orderStatus.status == "Cancelled")
    for stop in (StopOrder("BUY", 2, round(ticker.bid * 0.5, 2)),
                 StopLimitOrder("BUY", 2, round(ticker.ask * 1.02, 2),
                                round(ticker.bid * 0.5, 2))):
        placed = ib.placeOrder(spy, stop)
        assert _wait(ib, lambda t=placed: t.orderStatus.status == "Filled"), stop.orderType
    assert any(f.execution.orderRef == "conf-async" for f in ib.reqExecutions())
    assert any(p.contract.conId == SPY_CON_ID and p.position >= 5 for p in ib.reqPositions())
    values = {v.tag for v in ib.accountValues()}
    assert {"NetLiquidation", "TotalCashValue"} <= values


def test_ib_async_what_if_order_previews_margin_and_commission_and_never_executes(
        ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
    before = {p.contract.conId: p.position for p in ib.reqPositions()}
    n_fills = len(ib.reqExecutions())
    state = ib.whatIfOrder(spy, MarketOrder("BUY", 100))
    assert state.status == "PreSubmitted"
    assert float(state.initMarginChange) > 0 and float(state.maintMarginChange) > 0
    assert float(state.initMarginAfter) == pytest.approx(
        float(state.initMarginBefore) + float(state.initMarginChange), abs=0.02)
    assert state.commission > 0 and state.commissionCurrency == "USD"
    ib.sleep(0.5)
    assert {p.contract.conId: p.position for p in ib.reqPositions()} == before
    assert len(ib.reqExecutions()) == n_fills
    assert not [t for t in ib.openTrades() if t.order.whatIf]


def test_ib_async_bracket_children_wait_for_the_parent_and_die_with_it(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
    ib.qualifyContracts(spy)
    px = ib.reqTickers(spy)[0].marketPrice()
    resting = ib.bracketOrder("BUY", 3, round(px * 0.5, 2), round(px * 2, 2), round(px * 0.3, 2))
    trades = [ib.placeOrder(spy, o) for o in resting]
    assert _wait(ib, lambda: [t.orderStatus.status for t in trades]
                 == ["Submitted", "PreSubmitted", "PreSubmitted"])
    assert [t.orderStatus.parentId for t in trades[1:]] == [resting.parent.orderId] * 2
    assert all(o.parentId == resting.parent.orderId for o in ib.openOrders()
               if o.orderId != resting.parent.orderId and o.orderId in
               {t.order.orderId for t in trades})
    ib.cancelOrder(resting.parent)
    assert _wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades))

    filling = ib.bracketOrder("BUY", 3, round(px * 1.05, 2), round(px * 2, 2),
                              round(px * 0.3, 2))
    trades = [ib.placeOrder(spy, o) for o in filling]
    assert _wait(ib, lambda: [t.orderStatus.status for t in trades]
                 == ["Filled", "Submitted", "Submitted"])
    for child in (filling.takeProfit, filling.stopLoss):  # leave nothing working behind
        ib.cancelOrder(child)
    assert _wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades[1:]))


def test_ib_async_one_cancels_all_cancels_the_other_legs_when_one_fills(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
    ib.qualifyContracts(spy)
    px = ib.reqTickers(spy)[0].marketPrice()
    legs = ib.oneCancelsAll([LimitOrder("BUY", 2, round(px * 0.5, 2)),
                             LimitOrder("BUY", 2, round(px * 0.4, 2))], "conf-oca", 1)
    trades = [ib.placeOrder(spy, o) for o in legs]
    assert _wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades))
    taker = ib.oneCancelsAll([MarketOrder("BUY", 2)], "conf-oca", 1)[0]
    taking = ib.placeOrder(spy, taker)
    assert _wait(ib, lambda: taking.orderStatus.status == "Filled"
                 and all(t.orderStatus.status == "Cancelled" for t in trades))
    assert all(t.orderStatus.filled == 0 for t in trades)


def test_ib_async_unknown_contract_gets_error_200_with_the_request_id(ib: IB) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    assert ib.reqContractDetails(Stock("NOSUCHSYM", "SMART", "USD")) == []
    assert any(code == 200 and req_id > 0 for req_id, code in errors)


def test_ib_async_sec_def_opt_params_answers_empty_instead_of_waiting(ib: IB) -> None:
    assert ib.reqSecDefOptParams("SPY", "", "STK", SPY_CON_ID) == []


def test_ib_async_matching_symbols_come_from_the_universe(ib: IB) -> None:
    found = ib.reqMatchingSymbols("QQ")
    assert found and found[0].contract.symbol == "QQQ"
    assert found[0].contract.conId and found[0].contract.primaryExchange == "NASDAQ"
    assert ib.reqMatchingSymbols("ZZZZZZ") == []


def test_ib_async_tick_by_tick_follows_the_tick_stream(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
    seen: list[TickByTickBidAsk | TickByTickAllLast] = []
    bid_ask = ib.reqTickByTickData(spy, "BidAsk")
    bid_ask.updateEvent += lambda t: seen.extend(t.tickByTicks)
    assert _wait(ib, lambda: any(isinstance(t, TickByTickBidAsk) for t in seen))
    tick = next(t for t in seen if isinstance(t, TickByTickBidAsk))
    assert 0 < tick.bidPrice < tick.askPrice and tick.bidSize > 0
    ib.cancelTickByTickData(spy, "BidAsk")
    ib.reqTickByTickData(spy, "Last")
    assert _wait(ib, lambda: any(isinstance(t, TickByTickAllLast) for t in seen))
    trade = next(t for t in seen if isinstance(t, TickByTickAllLast))
    assert trade.price > 0 and trade.size > 0 and trade.exchange == "ARCA"
    ib.cancelTickByTickData(spy, "Last")


def test_ib_async_market_depth_is_a_small_book_around_the_quote(ib: IB) -> None:
    spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
    ticker = ib.reqMktDepth(spy, numRows=3)
    assert _wait(ib, lambda: len(ticker.domBids) == 3 and len(ticker.domAsks) == 3)
    bids = [level.price for level in ticker.domBids]
    asks = [level.price for level in ticker.domAsks]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]
    ib.cancelMktDepth(spy)
    smart = ib.reqMktDepth(spy, numRows=2, isSmartDepth=True)
    assert _wait(ib, lambda: len(smart.domBids) == 2)
    assert all(level.marketMaker for level in smart.domBids)
    ib.cancelMktDepth(spy, isSmartDepth=True)


def test_ib_async_requests_without_an_id_get_an_empty_answer(ib: IB) -> None:
    assert ib.reqMktDepthExchanges()
    assert ib.reqNewsProviders() == []
    assert ib.reqSmartComponents("SMART") == []
    assert ib.reqMarketRule(26)


def test_ib_async_unsupported_requests_end_with_their_own_id_and_a_gateway_code(
        ib: IB) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    spy = Stock("SPY", "SMART", "USD", conId=SPY_CON_ID)
    assert not ib.reqFundamentalData(spy, "ReportSnapshot")
    assert ib.reqHistoricalTicks(spy, "20261118 14:00:00 UTC", "", 100, "TRADES", True) == []
    assert not ib.reqHistogramData(spy, True, "1 day")
    assert not ib.reqNewsArticle("BZ", "BZ$1")
    codes = {code for req_id, code in errors if req_id > 0}
    assert {430, 162, 10276} <= codes


def test_ib_async_option_calculation_on_a_listed_stock_is_refused_with_its_id(ib: IB) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    option = Contract(secType="OPT", symbol="SPY", lastTradeDateOrContractMonth="20261218",
                      strike=600.0, right="C", exchange="SMART", currency="USD")
    ib.client.calculateImpliedVolatility(9001, option, 5.0, 600.0, [])
    assert _wait(ib, lambda: (9001, 200) in errors)


# ---- the other two clients -------------------------------------------------------------------

@THREAD_TIMERS  # ibapi's reader loop polls its queue with a timed wait
@pytest.mark.parametrize("version", ["157", "100", "124", "145"])
def test_official_ibapi_conforms_at_its_version_and_older_ones(
        sim: SimProcess, version: str) -> None:
    python = _venv_python("ATS_IBAPI_PYTHON", ".venv-ibapi")
    if python is None:
        pytest.skip("no ibapi venv: run `make .venv-ibapi/.installed` or set ATS_IBAPI_PYTHON")
    _run_script(python, "ibapi_conformance.py", sim, version)


def test_ib_insync_conforms(sim: SimProcess) -> None:
    python = _venv_python("ATS_INSYNC_PYTHON", ".venv-insync")
    if python is None:
        pytest.skip("no ib_insync venv: set ATS_INSYNC_PYTHON or create .venv-insync")
    _run_script(python, "insync_conformance.py", sim)


# ---- helpers ---------------------------------------------------------------------------------

def _wait(ib: IB, cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    waited = 0.0
    while not cond() and waited < timeout:
        ib.sleep(0.05)
        waited += 0.05
    return bool(cond())
