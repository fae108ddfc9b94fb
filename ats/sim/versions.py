"""Server versions: the range the simulator can encode, and the handshake that picks one.

A client opens with `API\\0` and a range `v<min>..<max>` (optionally followed by a space and
connect options). Like a Gateway, the simulator answers the highest version both sides
support. When the ranges do not meet, a Gateway still answers with its own version and the
client refuses it: ibapi's C++/Java clients report 506 "Unsupported version" and disconnect,
ib_async/ib_insync disconnect with "TWS/gateway version must be >= 972". The simulator
answers the same way and then closes the socket.

The constants name the versions at which a message the simulator sends changed layout
(the names are those of ibapi's `server_versions.py`; values from 158 on are from ibapi 10.x).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_VERSION = 100  #: the first "v100+" framed protocol
MAX_VERSION = 176  #: BOND_ISSUERID; what ib_async 2.1 and ib_insync 0.9.86 decode

FRACTIONAL_POSITIONS = 101  #: positions and order quantities as decimals
PEGGED_TO_BENCHMARK = 102  #: openOrder: conditions and adjusted-order fields
MODELS_SUPPORT = 103  #: modelCode in openOrder and execDetails
SOFT_DOLLAR_TIER = 106
REQ_MATCHING_SYMBOLS = 108
MD_SIZE_MULTIPLIER = 110  #: contractDetails: mdSizeMultiplier (until SIZE_RULES)
CASH_QTY = 111
REQ_MKT_DEPTH_EXCHANGES = 112
SERVICE_DATA_TYPE = 120  #: mktDepthExchanges: serviceDataType and aggGroup
AGG_GROUP = 121
UNDERLYING_INFO = 122
SYNT_REALTIME_BARS = 124  #: no version field in historicalData/reqHistoricalData; keepUpToDate
MARKET_RULES = 126
UNREALIZED_PNL = 129
MARKET_CAP_PRICE = 131  #: orderStatus: no version field, mktCapPrice at the end
REAL_EXPIRATION_DATE = 134
REALIZED_PNL = 135
LAST_LIQUIDITY = 136  #: execDetails: no version field, lastLiquidity at the end
TICK_BY_TICK = 137
TICK_BY_TICK_IGNORE_SIZE = 140
AUTO_PRICE_FOR_HEDGE = 141
WHAT_IF_EXT_FIELDS = 142
SCANNER_GENERIC_OPTS = 143  #: reqScannerSubscription: no version field
ORDER_CONTAINER = 145  #: openOrder/placeOrder: no version field
SMART_DEPTH = 146
D_PEG_ORDERS = 148
MKT_DEPTH_PRIM_EXCHANGE = 149
COMPLETED_ORDERS = 150
PRICE_MGMT_ALGO = 151
STOCK_TYPE = 152
DURATION = 158
POST_TO_ATS = 160
AUTO_CANCEL_PARENT = 162
FRACTIONAL_SIZE_SUPPORT = 163  #: tick, bar and depth sizes as decimals
SIZE_RULES = 164  #: contractDetails: no version field; minSize, sizeIncrement, suggested...
ADVANCED_ORDER_REJECT = 166  #: error: advancedOrderRejectJson
PEGBEST_PEGMID_OFFSETS = 170  #: openOrder/completedOrder: five more fields
BOND_ISSUERID = 176  #: symbolSamples: description and issuerId

_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?:\s.*)?$", re.S)


@dataclass(frozen=True)
class Handshake:
    """The answer to a client's version range."""

    version: int  #: the version sent back
    accepted: bool  #: False: the ranges do not meet; the connection closes after the answer
    client_min: int
    client_max: int


def parse_range(text: str) -> tuple[int, int] | None:
    """`"v100..157"` -> (100, 157); `"v176"` -> (176, 176); None if not a range."""
    m = _RANGE.match(text.strip("\0"))
    if not m:
        return None
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    return (lo, hi) if lo <= hi else None


def negotiate(text: str, lo: int = MIN_VERSION, hi: int = MAX_VERSION) -> Handshake | None:
    """The highest version both sides support, or the simulator's own bound when none is."""
    rng = parse_range(text)
    if rng is None:
        return None
    c_lo, c_hi = rng
    best = min(hi, c_hi)
    if best >= max(lo, c_lo):
        return Handshake(best, True, c_lo, c_hi)
    return Handshake(hi if c_lo > hi else lo, False, c_lo, c_hi)
