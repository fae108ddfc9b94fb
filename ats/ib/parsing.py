"""IB shapes <-> ats shapes, in one place: contracts, bars, ticks, executions, commissions."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd

from ats.barsizes import SIZES
from ats.ib import adapter
from ats.orders.fills import CommissionReport, Execution
from ats.sdk.instrument import Future, Index, Instrument, Stock
from ats.sdk.ticks import Tick

#: IB's symbol for each future the SDK names by trading class: IB lists the full-size VIX
#: future under symbol VIX (trading class VX) and the mini under its own symbol VXM (trading
#: class VXM, CFE, multiplier 100), so `Future('VXM', ...)` is asked as a Gateway expects.
FUTURE_ROOTS = {"VX": "VIX", "VXM": "VXM"}


def future_chain_query(symbol: str, exchange: str = "CFE") -> adapter.Contract:
    """A contract whose reqContractDetails lists every future of the SDK symbol `symbol`."""
    return adapter.Future(FUTURE_ROOTS.get(symbol, symbol), exchange=exchange,
                          tradingClass=symbol if symbol in FUTURE_ROOTS else "")


def to_contract(inst: Instrument) -> adapter.Contract:
    if inst.sec_type == "STK":
        return adapter.Stock(inst.symbol, inst.exchange, inst.currency,
                             primaryExchange=inst.primary_exchange or "")
    if inst.sec_type == "IND":
        return adapter.Index(inst.symbol, inst.exchange, inst.currency)
    if inst.sec_type == "FUT":
        return adapter.Future(FUTURE_ROOTS.get(inst.symbol, inst.symbol), inst.expiry or "",
                              inst.exchange,
                              multiplier=str(int(inst.multiplier)) if inst.multiplier else "",
                              currency=inst.currency,
                              tradingClass=inst.symbol if inst.symbol in FUTURE_ROOTS else "")
    raise ValueError(f"unsupported sec_type {inst.sec_type!r}")


def from_contract(c: adapter.Contract) -> Instrument:
    if c.secType == "FUT":
        symbol = c.tradingClass if c.tradingClass in FUTURE_ROOTS else c.symbol
        return Future(symbol, c.lastTradeDateOrContractMonth[:8], c.exchange or "CFE",
                      float(c.multiplier or 1))
    if c.secType == "IND":
        return Index(c.symbol, c.exchange or "CBOE")
    return Stock(c.symbol, "SMART", c.currency or "USD")


def duration_for(bar_size: str, bars: int) -> str:
    """An IB durationStr covering at least `bars` bars (with room for closed sessions)."""
    seconds = SIZES[bar_size].seconds * max(bars, 1)
    if bar_size == "1d":
        years = math.ceil(bars / 250 + 0.05)
        return f"{years} Y" if bars > 250 else f"{math.ceil(bars * 1.5) + 5} D"
    # Intraday: scale by 24/6.5 trading hours, plus a margin.
    days = math.ceil(seconds * 24 / 6.5 / 86400) + 2
    return f"{days} D" if days > 1 else f"{int(seconds * 4)} S"


def bars_to_df(bars: Iterable[adapter.BarData]) -> pd.DataFrame:
    rows = []
    for b in bars:
        ts = pd.Timestamp(b.date)
        ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
        rows.append((ts, float(b.open), float(b.high), float(b.low), float(b.close),
                     max(float(b.volume), 0.0)))
    df = pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])
    return df.set_index("time")


def execution(fill: adapter.Fill) -> Execution:
    e, c = fill.execution, fill.contract
    t = e.time if isinstance(e.time, datetime) else datetime.now(UTC)
    return Execution(
        exec_id=e.execId, perm_id=int(e.permId), order_id=int(e.orderId),
        client_id=int(e.clientId), order_ref=e.orderRef or "", account=e.acctNumber,
        con_id=int(c.conId), symbol=c.symbol, sec_type=c.secType, currency=c.currency,
        multiplier=float(c.multiplier or 1), side=e.side, shares=float(e.shares),
        price=float(e.price), time=t,
    )


def commission(report: adapter.CommissionReport) -> CommissionReport:
    pnl = report.realizedPNL
    return CommissionReport(
        exec_id=report.execId, commission=float(report.commission), currency=report.currency,
        realized_pnl=None if pnl is None or abs(pnl) > 1e300 else float(pnl),
    )


def tick(key: str, ticker: adapter.Ticker, time: pd.Timestamp) -> Tick:
    """A ticker's latest quote and trade; IB's unset fields (NaN, and -1 for a price or a
    size) become None."""
    return Tick(time, key, _tick_field(ticker.bid), _tick_field(ticker.ask),
                _tick_field(ticker.last), _tick_field(ticker.bidSize),
                _tick_field(ticker.askSize), _tick_field(ticker.lastSize))


def _tick_field(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if not math.isfinite(v) or v == -1 else v
