"""Server-to-client messages: ids and field lists, one encoder per message.

Layouts follow the client decoders at server version 176 (ib_async 2.1 and ib_insync
0.9.86 decode the same fields there). Counts inside openOrder and completedOrder must be
"0", never empty.
"""

from __future__ import annotations

import datetime as dt

from ats.sim.market import Bar
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.universe import Instrument

Fields = list[object]


class Out:
    """Incoming-to-client message ids (the decoder's table keys)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    TICK_STRING = 46
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    POSITION_MULTI = 71
    POSITION_MULTI_END = 72
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    HEAD_TIMESTAMP = 88
    HISTORICAL_DATA_UPDATE = 90
    PNL = 94
    PNL_SINGLE = 95
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


class Tick:
    BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE = 0, 1, 2, 3, 4, 5
    HIGH, LOW, VOLUME, CLOSE, OPEN = 6, 7, 8, 9, 14
    LAST_TIMESTAMP = 45


def ib_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")


def _contract(inst: Instrument) -> Fields:
    """conId .. tradingClass without primaryExchange (execDetails, position, openOrder)."""
    return [inst.con_id, inst.symbol, inst.sec_type, inst.expiry, 0.0, "",
            inst.multiplier if inst.sec_type == "FUT" else "", inst.exchange, inst.currency,
            inst.local, inst.klass]


def error(req_id: int, code: int, text: str) -> Fields:
    return [Out.ERR_MSG, 2, req_id, code, text, ""]


def next_valid_id(order_id: int) -> Fields:
    return [Out.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def current_time(ts: float) -> Fields:
    return [Out.CURRENT_TIME, 1, int(ts)]


def contract_data(req_id: int, inst: Instrument, exchange: str) -> Fields:
    order_types = "ACTIVETIM,ADJUST,ALERT,ALGO,ALLOC,DAY,GTC,LMT,MKT,STP,STPLMT,TRAIL"
    hours = "20250101:0930-20250101:1600" if inst.currency == "USD" else ""
    return [
        Out.CONTRACT_DATA, req_id, inst.symbol, inst.sec_type, inst.expiry, 0.0, "",
        exchange, inst.currency, inst.local, inst.klass if inst.sec_type != "STK" else "NMS",
        inst.klass, inst.con_id, inst.min_tick,
        inst.multiplier if inst.sec_type == "FUT" else "", order_types,
        ",".join(inst.valid_exchanges), 1, 0, inst.long_name, inst.primary_exchange,
        inst.expiry[:6], "", "", "", inst.time_zone, hours, hours, "", "", 0,
        1, "", "", "26" if inst.sec_type == "STK" else "", inst.expiry,
        "COMMON" if inst.sec_type == "STK" else "", 1, 1, 1,
    ]


def contract_data_end(req_id: int) -> Fields:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def tick_price(req_id: int, tick_type: int, price: float, size: float) -> Fields:
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    return [Out.TICK_STRING, 6, req_id, tick_type, value]


def tick_snapshot_end(req_id: int) -> Fields:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def market_data_type(req_id: int, kind: int) -> Fields:
    return [Out.MARKET_DATA_TYPE, 1, req_id, kind]


def open_order(o: SimOrder, inst: Instrument) -> Fields:
    return [
        Out.OPEN_ORDER, o.order_id, *_contract(inst), o.action, o.total_qty, o.order_type,
        o.lmt_price, o.aux_price, o.tif, o.oca_group, o.account, "", 0, o.order_ref,
        o.client_id, o.perm_id, o.outside_rth, False, 0.0, "", "", "", "", "", "",
        # modelCode .. deltaNeutralAuxPrice
        "", "", "", "", "", 0, "", -1, "", "", "", "", "", "", 0, False, False, False, "",
        3, False, False, "", 0, 0, "", 0, "", "",
        # continuousUpdate .. comboLegsDescrip, then leg/orderLeg/param counts
        0, "", "", "", "", "", "", 0, 0, 0,
        # scale init/subs/increment, hedgeType
        "", "", "", "",
        # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dncPresent, algo
        False, "", "IB", False, 0, "",
        # solicited, whatIf, status, 12 margin/commission fields, warningText, randomize x2
        False, False, o.status, "", "", "", "", "", "", "", "", "", "", "", "", "", "",
        False, False,
        # conditions count
        0,
        # adjustedOrderType .. usePriceMgmtAlgo
        "None", "", "", "", "", "", "", 0, "", "", "", "", False, False, "", "",
        # duration, postToAts, autoCancelParent, minTradeQty .. midOffsetAtHalf
        "", "", False, "", "", "", "", "",
    ]


def order_status(o: SimOrder) -> Fields:
    return [Out.ORDER_STATUS, o.order_id, o.status, o.filled, o.remaining, o.avg_fill_price,
            o.perm_id, o.parent_id, o.last_fill_price, o.client_id, "", ""]


def open_order_end() -> Fields:
    return [Out.OPEN_ORDER_END, 1]


def completed_order(o: SimOrder, inst: Instrument) -> Fields:
    c = _contract(inst)
    return [
        Out.COMPLETED_ORDER, *c, o.action, o.total_qty, o.order_type, o.lmt_price,
        o.aux_price, o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.perm_id,
        o.outside_rth, False, 0.0, "", "", "", "", "",
        # modelCode .. deltaNeutralAuxPrice (23)
        "", "", "", "", "", 0, "", -1, "", "", "", "", "", "", False, False, "", 3, 0, "",
        0, "", "",
        # continuousUpdate .. comboLegsDescrip, leg counts
        0, "", "", "", "", 0, 0, 0,
        # scale, hedgeType
        "", "", "", "",
        # clearingAccount, clearingIntent, notHeld, dncPresent, algoStrategy
        "", "IB", False, 0, "",
        # solicited, status, randomizeSize, randomizePrice, conditions
        False, o.status, False, False, 0,
        # trailStopPrice .. completedStatus (15)
        "", "", "", False, False, "", o.filled, 0, False, "", False, False, "",
        ib_time(o.completed_time) if o.completed_time else "", o.completed_status,
        # minTradeQty .. midOffsetAtHalf
        "", "", "", "", "",
    ]


def completed_orders_end() -> Fields:
    return [Out.COMPLETED_ORDERS_END]


def exec_details(req_id: int, e: SimExecution, inst: Instrument) -> Fields:
    c = _contract(inst)
    c[7] = e.exchange
    return [
        Out.EXECUTION_DATA, req_id, e.order_id, *c, e.exec_id, ib_time(e.time), e.account,
        e.exchange, e.side, e.shares, e.price, e.perm_id, e.client_id, 0, e.cum_qty,
        e.avg_price, e.order_ref, "", "", "", 1,
    ]


def exec_details_end(req_id: int) -> Fields:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(e: SimExecution) -> Fields:
    realized = e.realized_pnl if e.realized_pnl else 1.7976931348623157e308
    return [Out.COMMISSION_REPORT, 1, e.exec_id, e.commission, e.currency, realized,
            1.7976931348623157e308, ""]


def position(account: str, inst: Instrument, qty: float, avg_cost: float) -> Fields:
    return [Out.POSITION_DATA, 3, account, *_contract(inst), qty, avg_cost]


def position_end() -> Fields:
    return [Out.POSITION_END, 1]


def position_multi(req_id: int, account: str, inst: Instrument, qty: float,
                   avg_cost: float) -> Fields:
    return [Out.POSITION_MULTI, 1, req_id, account, *_contract(inst), qty, avg_cost, ""]


def position_multi_end(req_id: int) -> Fields:
    return [Out.POSITION_MULTI_END, 1, req_id]


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(inst: Instrument, qty: float, price: float, value: float,
                    avg_cost: float, unrealized: float, realized: float,
                    account: str) -> Fields:
    return [Out.PORTFOLIO_VALUE, 8, inst.con_id, inst.symbol, inst.sec_type, inst.expiry,
            0.0, "", inst.multiplier if inst.sec_type == "FUT" else "",
            inst.primary_exchange, inst.currency, inst.local, inst.klass, qty, price, value,
            avg_cost, unrealized, realized, account]


def account_time(ts: float) -> Fields:
    return [Out.ACCT_UPDATE_TIME, 1, dt.datetime.fromtimestamp(ts, dt.UTC)
            .strftime("%H:%M")]


def account_download_end(account: str) -> Fields:
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_summary(req_id: int, account: str, tag: str, value: str,
                    currency: str) -> Fields:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def account_update_multi(req_id: int, account: str, key: str, value: str,
                         currency: str) -> Fields:
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def bar_date(bar: Bar, daily: bool, format_date: int, tz: str) -> str:
    d = dt.datetime.fromtimestamp(bar.time, dt.UTC)
    if daily:
        return d.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(bar.time))
    from zoneinfo import ZoneInfo

    return d.astimezone(ZoneInfo(tz)).strftime("%Y%m%d %H:%M:%S ") + tz


def historical_data(req_id: int, start: str, end: str, bars: list[Bar], daily: bool,
                    format_date: int, tz: str) -> Fields:
    out: Fields = [Out.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for b in bars:
        out += [bar_date(b, daily, format_date, tz), b.open, b.high, b.low, b.close,
                b.volume, b.wap, b.count]
    return out


def historical_data_update(req_id: int, bar: Bar, daily: bool, format_date: int,
                           tz: str) -> Fields:
    return [Out.HISTORICAL_DATA_UPDATE, req_id, bar.count, bar_date(bar, daily, format_date, tz),
            bar.open, bar.close, bar.high, bar.low, bar.wap, bar.volume]


def real_time_bar(req_id: int, bar: Bar) -> Fields:
    return [Out.REAL_TIME_BARS, 3, req_id, int(bar.time), bar.open, bar.high, bar.low,
            bar.close, bar.volume, bar.wap, bar.count]


def head_timestamp(req_id: int, value: str) -> Fields:
    return [Out.HEAD_TIMESTAMP, req_id, value]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return [Out.PNL, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, qty: float, daily: float, unrealized: float, realized: float,
               value: float) -> Fields:
    return [Out.PNL_SINGLE, req_id, qty, daily, unrealized, realized, value]
