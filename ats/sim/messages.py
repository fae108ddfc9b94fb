"""Server-to-client messages: ids and field lists, one encoder per message.

Each encoder whose layout changed between server versions 100 and 176 takes the session's
negotiated version `v` (default: the newest). Layouts follow the official ibapi decoder
(9.81.1, v100..157) below 157 and ib_async 2.1 / ib_insync 0.9.86 at 176; `versions.py`
names each version at which a field came or went. Counts inside openOrder and
completedOrder must be "0", never empty. Below FRACTIONAL_POSITIONS quantities, and below
FRACTIONAL_SIZE_SUPPORT sizes and volumes, are integers: ibapi parses them with `int()`.
"""

from __future__ import annotations

import datetime as dt

from ats.sim import versions as V
from ats.sim.market import Bar
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.universe import Instrument
from ats.sim.versions import MAX_VERSION

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
    MARKET_DEPTH = 12
    MARKET_DEPTH_L2 = 13
    SCANNER_PARAMETERS = 19
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
    SEC_DEF_OPT_PARAMS_END = 76
    SOFT_DOLLAR_TIERS = 77
    FAMILY_CODES = 78
    SYMBOL_SAMPLES = 79
    MKT_DEPTH_EXCHANGES = 80
    SMART_COMPONENTS = 82
    NEWS_PROVIDERS = 85
    HEAD_TIMESTAMP = 88
    HISTORICAL_DATA_UPDATE = 90
    PNL = 94
    MARKET_RULE = 93
    PNL_SINGLE = 95
    TICK_BY_TICK = 99
    USER_INFO = 107
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


class Tick:
    BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE = 0, 1, 2, 3, 4, 5
    HIGH, LOW, VOLUME, CLOSE, OPEN = 6, 7, 8, 9, 14
    LAST_TIMESTAMP = 45


def size(v: int, x: float) -> object:
    """A tick, bar or depth size: an integer before FRACTIONAL_SIZE_SUPPORT."""
    if x != x:
        return ""
    return round(x) if v < V.FRACTIONAL_SIZE_SUPPORT else x


def qty(v: int, x: float) -> object:
    """A position or order quantity: an integer before FRACTIONAL_POSITIONS."""
    return round(x) if v < V.FRACTIONAL_POSITIONS else x


def ib_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")


def _contract(inst: Instrument) -> Fields:
    """conId .. tradingClass without primaryExchange (execDetails, position, openOrder)."""
    return [inst.con_id, inst.symbol, inst.sec_type, inst.expiry, 0.0, "",
            inst.multiplier if inst.sec_type == "FUT" else "", inst.exchange, inst.currency,
            inst.local, inst.klass]


def error(req_id: int, code: int, text: str, v: int = MAX_VERSION) -> Fields:
    out: Fields = [Out.ERR_MSG, 2, req_id, code, text]
    if v >= V.ADVANCED_ORDER_REJECT:
        out.append("")  # advancedOrderRejectJson
    return out


def next_valid_id(order_id: int) -> Fields:
    return [Out.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def current_time(ts: float) -> Fields:
    return [Out.CURRENT_TIME, 1, int(ts)]


def contract_data(req_id: int, inst: Instrument, exchange: str,
                  v: int = MAX_VERSION) -> Fields:
    order_types = "ACTIVETIM,ADJUST,ALERT,ALGO,ALLOC,DAY,GTC,LMT,MKT,STP,STPLMT,TRAIL"
    hours = "20250101:0930-20250101:1600" if inst.currency == "USD" else ""
    out: Fields = [Out.CONTRACT_DATA]
    if v < V.SIZE_RULES:
        out.append(8)  # message version
    out += [req_id, inst.symbol, inst.sec_type, inst.expiry, 0.0, "", exchange,
            inst.currency, inst.local, inst.klass if inst.sec_type != "STK" else "NMS",
            inst.klass, inst.con_id, inst.min_tick]
    if V.MD_SIZE_MULTIPLIER <= v < V.SIZE_RULES:
        out.append(1)  # mdSizeMultiplier
    out += [inst.multiplier if inst.sec_type == "FUT" else "", order_types,
            ",".join(inst.valid_exchanges), 1, 0, inst.long_name, inst.primary_exchange,
            inst.expiry[:6], "", "", "", inst.time_zone, hours, hours, "", "", 0]
    if v >= V.AGG_GROUP:
        out.append(1)
    if v >= V.UNDERLYING_INFO:
        out += ["", ""]
    if v >= V.MARKET_RULES:
        out.append("26" if inst.sec_type == "STK" else "")
    if v >= V.REAL_EXPIRATION_DATE:
        out.append(inst.expiry)
    if v >= V.STOCK_TYPE:
        out.append("COMMON" if inst.sec_type == "STK" else "")
    if v == V.FRACTIONAL_SIZE_SUPPORT:
        out.append(1)  # suggestedSizeIncrement
    elif v >= V.SIZE_RULES:
        out += [1, 1, 1]  # minSize, sizeIncrement, suggestedSizeIncrement
    return out


def contract_data_end(req_id: int) -> Fields:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def tick_price(req_id: int, tick_type: int, price: float, sz: float,
               v: int = MAX_VERSION) -> Fields:
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size(v, sz), 0]


def tick_size(req_id: int, tick_type: int, sz: float, v: int = MAX_VERSION) -> Fields:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size(v, sz)]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    return [Out.TICK_STRING, 6, req_id, tick_type, value]


def tick_snapshot_end(req_id: int) -> Fields:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def market_data_type(req_id: int, kind: int) -> Fields:
    return [Out.MARKET_DATA_TYPE, 1, req_id, kind]


def open_order(o: SimOrder, inst: Instrument, v: int = MAX_VERSION,
               what_if: Fields | None = None) -> Fields:
    """`what_if`: a what-if answer's margin and commission fields (whatIf.Preview)."""
    out: Fields = [Out.OPEN_ORDER]
    if v < V.ORDER_CONTAINER:
        out.append(34)  # message version
    out += [
        o.order_id, *_contract(inst), o.action, qty(v, o.total_qty), o.order_type,
        o.lmt_price, o.aux_price, o.tif, o.oca_group, o.account, "", 0, o.order_ref,
        o.client_id, o.perm_id, o.outside_rth, False, 0.0,
        # goodAfterTime, sharesAllocation, faGroup, faMethod, faPercentage, faProfile
        "", "", "", "", "", ""]
    if v >= V.MODELS_SUPPORT:
        out.append("")  # modelCode
    out += [
        # goodTillDate .. deltaNeutralAuxPrice
        "", "", "", "", 0, "", -1, "", "", "", "", "", "", 0, False, False, False, "",
        o.oca_type or 3, False, False, "", o.parent_id, 0, "", 0, "", "",
        # continuousUpdate .. comboLegsDescrip, then leg/orderLeg/param counts
        0, "", "", "", "", "", "", 0, 0, 0,
        # scale init/subs/increment, hedgeType
        "", "", "", "",
        # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dncPresent, algo
        False, "", "IB", False, 0, "",
        # solicited, whatIf, status
        False, what_if is not None, o.status]
    # margins before/change (WHAT_IF_EXT_FIELDS), after, commission x3, currency, warning
    out += what_if if what_if is not None else [""] * (14 if v >= V.WHAT_IF_EXT_FIELDS else 8)
    out += [False, False]  # randomizeSize, randomizePrice
    if v >= V.PEGGED_TO_BENCHMARK:
        # conditions count, adjustedOrderType .. adjustableTrailingUnit
        out += [0, "None", "", "", "", "", "", "", 0]
    if v >= V.SOFT_DOLLAR_TIER:
        out += ["", "", ""]
    if v >= V.CASH_QTY:
        out.append("")
    if v >= V.AUTO_PRICE_FOR_HEDGE:
        out.append(False)  # dontUseAutoPriceForHedge
    if v >= V.ORDER_CONTAINER:
        out.append(False)  # isOmsContainer
    if v >= V.D_PEG_ORDERS:
        out.append("")  # discretionaryUpToLimitPrice
    if v >= V.PRICE_MGMT_ALGO:
        out.append("")  # usePriceMgmtAlgo
    if v >= V.DURATION:
        out.append("")
    if v >= V.POST_TO_ATS:
        out.append("")
    if v >= V.AUTO_CANCEL_PARENT:
        out.append(False)
    if v >= V.PEGBEST_PEGMID_OFFSETS:
        out += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return out


def order_status(o: SimOrder, v: int = MAX_VERSION) -> Fields:
    out: Fields = [Out.ORDER_STATUS]
    if v < V.MARKET_CAP_PRICE:
        out.append(6)  # message version
    out += [o.order_id, o.status, qty(v, o.filled), qty(v, o.remaining), o.avg_fill_price,
            o.perm_id, o.parent_id, o.last_fill_price, o.client_id, ""]
    if v >= V.MARKET_CAP_PRICE:
        out.append("")  # mktCapPrice
    return out


def open_order_end() -> Fields:
    return [Out.OPEN_ORDER_END, 1]


def completed_order(o: SimOrder, inst: Instrument, v: int = MAX_VERSION) -> Fields:
    """Only sent from COMPLETED_ORDERS (150) on: clients below it never ask."""
    c = _contract(inst)
    return [
        Out.COMPLETED_ORDER, *c, o.action, o.total_qty, o.order_type, o.lmt_price,
        o.aux_price, o.tif, o.oca_group, o.account, "", 0, o.order_ref, o.perm_id,
        o.outside_rth, False, 0.0, "", "", "", "", "",
        # modelCode .. deltaNeutralAuxPrice (23)
        "", "", "", "", "", 0, "", -1, "", "", "", "", "", "", False, False, "",
        o.oca_type or 3, 0, "",
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
        *(["", "", "", "", ""] if v >= V.PEGBEST_PEGMID_OFFSETS else []),
    ]


def completed_orders_end() -> Fields:
    return [Out.COMPLETED_ORDERS_END]


def exec_details(req_id: int, e: SimExecution, inst: Instrument,
                 v: int = MAX_VERSION) -> Fields:
    c = _contract(inst)
    c[7] = e.exchange
    out: Fields = [Out.EXECUTION_DATA]
    if v < V.LAST_LIQUIDITY:
        out.append(10)  # message version
    out += [req_id, e.order_id, *c, e.exec_id, ib_time(e.time), e.account, e.exchange,
            e.side, qty(v, e.shares), e.price, e.perm_id, e.client_id, 0, e.cum_qty,
            e.avg_price, e.order_ref, "", ""]
    if v >= V.MODELS_SUPPORT:
        out.append("")  # modelCode
    if v >= V.LAST_LIQUIDITY:
        out.append(1)  # lastLiquidity: added
    return out


def exec_details_end(req_id: int) -> Fields:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(e: SimExecution) -> Fields:
    realized = e.realized_pnl if e.realized_pnl else 1.7976931348623157e308
    return [Out.COMMISSION_REPORT, 1, e.exec_id, e.commission, e.currency, realized,
            1.7976931348623157e308, ""]


def position(account: str, inst: Instrument, n: float, avg_cost: float,
             v: int = MAX_VERSION) -> Fields:
    return [Out.POSITION_DATA, 3, account, *_contract(inst), qty(v, n), avg_cost]


def position_end() -> Fields:
    return [Out.POSITION_END, 1]


def position_multi(req_id: int, account: str, inst: Instrument, n: float,
                   avg_cost: float) -> Fields:
    return [Out.POSITION_MULTI, 1, req_id, account, *_contract(inst), n, avg_cost, ""]


def position_multi_end(req_id: int) -> Fields:
    return [Out.POSITION_MULTI_END, 1, req_id]


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(inst: Instrument, n: float, price: float, value: float,
                    avg_cost: float, unrealized: float, realized: float,
                    account: str, v: int = MAX_VERSION) -> Fields:
    return [Out.PORTFOLIO_VALUE, 8, inst.con_id, inst.symbol, inst.sec_type, inst.expiry,
            0.0, "", inst.multiplier if inst.sec_type == "FUT" else "",
            inst.primary_exchange, inst.currency, inst.local, inst.klass, qty(v, n), price,
            value, avg_cost, unrealized, realized, account]


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
                    format_date: int, tz: str, v: int = MAX_VERSION) -> Fields:
    old = v < V.SYNT_REALTIME_BARS
    out: Fields = [Out.HISTORICAL_DATA, *([3] if old else []), req_id, start, end, len(bars)]
    for b in bars:
        out += [bar_date(b, daily, format_date, tz), b.open, b.high, b.low, b.close,
                size(v, b.volume), b.wap, *(["false"] if old else []), b.count]
    return out


def historical_data_update(req_id: int, bar: Bar, daily: bool, format_date: int,
                           tz: str, v: int = MAX_VERSION) -> Fields:
    return [Out.HISTORICAL_DATA_UPDATE, req_id, bar.count, bar_date(bar, daily, format_date, tz),
            bar.open, bar.close, bar.high, bar.low, bar.wap, size(v, bar.volume)]


def real_time_bar(req_id: int, bar: Bar, v: int = MAX_VERSION) -> Fields:
    return [Out.REAL_TIME_BARS, 3, req_id, int(bar.time), bar.open, bar.high, bar.low,
            bar.close, size(v, bar.volume), bar.wap, bar.count]


def head_timestamp(req_id: int, value: str) -> Fields:
    return [Out.HEAD_TIMESTAMP, req_id, value]


def _pnl_parts(unrealized: float, realized: float, v: int) -> Fields:
    out: Fields = [unrealized] if v >= V.UNREALIZED_PNL else []
    if v >= V.REALIZED_PNL:
        out.append(realized)
    return out


def pnl(req_id: int, daily: float, unrealized: float, realized: float,
        v: int = MAX_VERSION) -> Fields:
    return [Out.PNL, req_id, daily, *_pnl_parts(unrealized, realized, v)]


def pnl_single(req_id: int, n: float, daily: float, unrealized: float, realized: float,
               value: float, v: int = MAX_VERSION) -> Fields:
    return [Out.PNL_SINGLE, req_id, size(v, n), daily, *_pnl_parts(unrealized, realized, v),
            value]


# ---- requests the simulator answers minimally ----------------------------------------

def symbol_samples(req_id: int, found: list[Instrument], v: int = MAX_VERSION) -> Fields:
    out: Fields = [Out.SYMBOL_SAMPLES, req_id, len(found)]
    for inst in found:
        derivatives = ["FUT"] if inst.sec_type in ("STK", "IND") else []
        out += [inst.con_id, inst.symbol, inst.sec_type, inst.primary_exchange,
                inst.currency, len(derivatives), *derivatives]
        if v >= V.BOND_ISSUERID:
            out += [inst.long_name, ""]  # description, issuerId
    return out


def sec_def_opt_params_end(req_id: int) -> Fields:
    return [Out.SEC_DEF_OPT_PARAMS_END, req_id]


def tick_by_tick_last(req_id: int, kind: int, ts: float, price: float, sz: float,
                      exchange: str, v: int = MAX_VERSION) -> Fields:
    return [Out.TICK_BY_TICK, req_id, kind, int(ts), price, size(v, sz), 0, exchange, ""]


def tick_by_tick_bid_ask(req_id: int, ts: float, bid: float, ask: float, bid_size: float,
                         ask_size: float, v: int = MAX_VERSION) -> Fields:
    return [Out.TICK_BY_TICK, req_id, 3, int(ts), bid, ask, size(v, bid_size),
            size(v, ask_size), 0]


def tick_by_tick_mid(req_id: int, ts: float, mid: float) -> Fields:
    return [Out.TICK_BY_TICK, req_id, 4, int(ts), mid]


def market_depth(req_id: int, position: int, operation: int, side: int, price: float,
                 sz: float, v: int = MAX_VERSION) -> Fields:
    """updateMktDepth; operation 0 insert, 1 update, 2 delete; side 0 ask, 1 bid."""
    return [Out.MARKET_DEPTH, 1, req_id, position, operation, side, price, size(v, sz)]


def market_depth_l2(req_id: int, position: int, maker: str, operation: int, side: int,
                    price: float, sz: float, smart: bool, v: int = MAX_VERSION) -> Fields:
    out: Fields = [Out.MARKET_DEPTH_L2, 1, req_id, position, maker, operation, side, price,
                   size(v, sz)]
    if v >= V.SMART_DEPTH:
        out.append(smart)
    return out


def mkt_depth_exchanges(rows: list[tuple[str, str, str]], v: int = MAX_VERSION) -> Fields:
    """(exchange, secType, listingExchange) rows."""
    out: Fields = [Out.MKT_DEPTH_EXCHANGES, len(rows)]
    for exchange, sec_type, listing in rows:
        if v >= V.SERVICE_DATA_TYPE:
            out += [exchange, sec_type, listing, "Deep", 1]  # serviceDataType, aggGroup
        else:
            out += [exchange, sec_type, True]
    return out


def scanner_parameters(xml: str) -> Fields:
    return [Out.SCANNER_PARAMETERS, 1, xml]


def soft_dollar_tiers(req_id: int) -> Fields:
    return [Out.SOFT_DOLLAR_TIERS, req_id, 0]


def family_codes(pairs: list[tuple[str, str]]) -> Fields:
    return [Out.FAMILY_CODES, len(pairs), *[f for pair in pairs for f in pair]]


def smart_components(req_id: int) -> Fields:
    return [Out.SMART_COMPONENTS, req_id, 0]


def user_info(req_id: int) -> Fields:
    return [Out.USER_INFO, req_id, ""]  # whiteBrandingId


def news_providers() -> Fields:
    return [Out.NEWS_PROVIDERS, 0]


def market_rule(rule_id: int, increment: float) -> Fields:
    return [Out.MARKET_RULE, rule_id, 1, 0.0, increment]
