"""The simulator's tradable universe: contract data with stable conIds."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import exchange_calendars as xcals
import pandas as pd

FUTURE_MONTH_CODES = "FGHJKMNQUVXZ"
FUTURES_LISTED = 8
FX_TO_USD = {"USD": 1.0, "EUR": 1.08, "CAD": 0.73}


@dataclass(frozen=True)
class Instrument:
    """One contract the simulator lists, with its synthetic-market parameters."""

    con_id: int
    symbol: str
    sec_type: str  #: STK, IND or FUT
    exchange: str  #: routing exchange reported back (SMART for stocks)
    primary_exchange: str
    currency: str
    long_name: str
    sector: str = ""  #: factor group for equities
    ref_price: float = 100.0  #: price level at the anchor date
    beta: float = 1.0  #: loading on the market factor
    vol: float = 0.25  #: annualised volatility
    daily_volume: float = 5e6
    multiplier: int = 1
    expiry: str = ""  #: YYYYMMDD for futures
    local_symbol: str = ""
    trading_class: str = ""
    min_tick: float = 0.01
    time_zone: str = "US/Eastern"
    valid_exchanges: tuple[str, ...] = field(default=())

    @property
    def local(self) -> str:
        return self.local_symbol or self.symbol

    @property
    def klass(self) -> str:
        return self.trading_class or self.symbol

    @property
    def tradable(self) -> bool:
        return self.sec_type != "IND"


# symbol, conId, primary exchange, sector, ref price, beta, vol, daily volume, long name
_US: list[tuple[str, int, str, str, float, float, float, float, str]] = [
    ("SPY", 756733, "ARCA", "INDEX", 580.0, 1.0, 0.16, 7e7, "SPDR S&P 500 ETF TRUST"),
    ("QQQ", 320227571, "NASDAQ", "TECH", 500.0, 1.15, 0.21, 4e7, "INVESCO QQQ TRUST SERIES 1"),
    ("IWM", 9579970, "ARCA", "INDEX", 220.0, 1.1, 0.22, 3e7, "ISHARES RUSSELL 2000 ETF"),
    ("ACWI", 36763715, "NASDAQ", "INDEX", 115.0, 0.9, 0.15, 3e6, "ISHARES MSCI ACWI ETF"),
    ("EFA", 27684070, "ARCA", "INDEX", 80.0, 0.8, 0.16, 1.5e7, "ISHARES MSCI EAFE ETF"),
    ("TLT", 15547841, "NASDAQ", "BOND", 92.0, -0.2, 0.15, 3e7, "ISHARES 20+ YEAR TREASURY BD"),
    ("GLD", 51529211, "ARCA", "GOLD", 240.0, 0.05, 0.14, 8e6, "SPDR GOLD SHARES"),
    ("SVXY", 406384426, "BATS", "VOL", 48.0, 1.8, 0.45, 2e6, "PROSHARES SHORT VIX ST FUTR"),
    ("VXX", 519012757, "BATS", "VOL", 50.0, -3.5, 0.70, 5e6, "IPATH SERIES B S&P 500 VIX"),
    ("UVXY", 437864880, "BATS", "VOL", 30.0, -5.0, 1.0, 2e7, "PROSHARES ULTRA VIX ST FUTUR"),
    ("XLK", 4215235, "ARCA", "TECH", 230.0, 1.2, 0.22, 6e6, "TECHNOLOGY SELECT SECT SPDR"),
    ("XLF", 4215212, "ARCA", "FIN", 48.0, 1.1, 0.2, 4e7, "FINANCIAL SELECT SECTOR SPDR"),
    ("XLE", 4215211, "ARCA", "ENERGY", 90.0, 0.9, 0.25, 1.5e7, "ENERGY SELECT SECTOR SPDR"),
    ("XLV", 4215213, "ARCA", "HEALTH", 145.0, 0.7, 0.15, 8e6, "HEALTH CARE SELECT SECTOR"),
    ("XLI", 4215214, "ARCA", "INDU", 135.0, 1.0, 0.18, 1e7, "INDUSTRIAL SELECT SECT SPDR"),
    ("XLY", 4215216, "ARCA", "DISC", 210.0, 1.1, 0.2, 4e6, "CONSUMER DISCRETIONARY SELT"),
    ("XLP", 4215217, "ARCA", "STAPLES", 80.0, 0.5, 0.12, 1e7, "CONSUMER STAPLES SPDR"),
    ("XLU", 4215220, "ARCA", "UTIL", 78.0, 0.45, 0.16, 1.2e7, "UTILITIES SELECT SECTOR SPDR"),
    ("XLB", 4215210, "ARCA", "MATER", 90.0, 1.0, 0.19, 5e6, "MATERIALS SELECT SECTOR SPDR"),
    ("XLRE", 276535017, "ARCA", "REIT", 42.0, 0.8, 0.2, 6e6, "REAL ESTATE SELECT SEC SPDR"),
    ("XLC", 326301469, "ARCA", "COMM", 95.0, 1.0, 0.2, 4e6, "COMMUNICATION SERVICES SPDR"),
    ("AAPL", 265598, "NASDAQ", "TECH", 230.0, 1.1, 0.27, 5e7, "APPLE INC"),
    ("MSFT", 272093, "NASDAQ", "TECH", 420.0, 1.05, 0.25, 2e7, "MICROSOFT CORP"),
    ("NVDA", 4815747, "NASDAQ", "TECH", 140.0, 1.6, 0.5, 2.5e8, "NVIDIA CORP"),
    ("AMZN", 3691937, "NASDAQ", "DISC", 200.0, 1.2, 0.32, 4e7, "AMAZON.COM INC"),
    ("GOOGL", 208813719, "NASDAQ", "COMM", 175.0, 1.05, 0.3, 2.5e7, "ALPHABET INC-CL A"),
    ("META", 107113386, "NASDAQ", "COMM", 580.0, 1.25, 0.38, 1.5e7, "META PLATFORMS INC-CLASS A"),
    ("TSLA", 76792991, "NASDAQ", "DISC", 250.0, 1.8, 0.6, 9e7, "TESLA INC"),
    ("JPM", 1520593, "NYSE", "FIN", 220.0, 1.1, 0.24, 9e6, "JPMORGAN CHASE & CO"),
    ("BAC", 10098, "NYSE", "FIN", 42.0, 1.2, 0.28, 3.5e7, "BANK OF AMERICA CORP"),
    ("XOM", 13977, "NYSE", "ENERGY", 115.0, 0.85, 0.25, 1.5e7, "EXXON MOBIL CORP"),
    ("CVX", 13836, "NYSE", "ENERGY", 155.0, 0.9, 0.26, 8e6, "CHEVRON CORP"),
    ("KO", 8894, "NYSE", "STAPLES", 68.0, 0.55, 0.16, 1.3e7, "COCA-COLA CO/THE"),
    ("PEP", 11017, "NASDAQ", "STAPLES", 160.0, 0.55, 0.17, 5e6, "PEPSICO INC"),
    ("WMT", 13824, "NYSE", "STAPLES", 85.0, 0.6, 0.18, 1.5e7, "WALMART INC"),
    ("JNJ", 8719, "NYSE", "HEALTH", 155.0, 0.55, 0.16, 7e6, "JOHNSON & JOHNSON"),
    ("UNH", 8856, "NYSE", "HEALTH", 550.0, 0.8, 0.25, 3e6, "UNITEDHEALTH GROUP INC"),
    ("PG", 11060, "NYSE", "STAPLES", 165.0, 0.5, 0.15, 6e6, "PROCTER & GAMBLE CO/THE"),
    ("HD", 10184, "NYSE", "DISC", 390.0, 1.0, 0.22, 3e6, "HOME DEPOT INC"),
    ("V", 49462172, "NYSE", "FIN", 280.0, 0.95, 0.2, 6e6, "VISA INC-CLASS A SHARES"),
    ("MA", 34225567, "NYSE", "FIN", 500.0, 1.0, 0.22, 3e6, "MASTERCARD INC - A"),
    ("INTC", 270639, "NASDAQ", "TECH", 22.0, 1.2, 0.4, 6e7, "INTEL CORP"),
    ("CSCO", 268084, "NASDAQ", "TECH", 57.0, 0.9, 0.22, 2e7, "CISCO SYSTEMS INC"),
    ("DIS", 6459, "NYSE", "COMM", 110.0, 1.1, 0.28, 9e6, "WALT DISNEY CO/THE"),
    ("MRK", 8719001, "NYSE", "HEALTH", 100.0, 0.5, 0.2, 9e6, "MERCK & CO. INC."),
    ("T", 37018770, "NYSE", "COMM", 22.0, 0.6, 0.2, 3e7, "AT&T INC"),
]

# symbol, conId, currency, primary exchange, ref price, beta, vol, daily volume, long name
_FOREIGN: list[tuple[str, int, str, str, float, float, float, float, str]] = [
    ("SAP", 14204, "EUR", "IBIS", 220.0, 0.9, 0.25, 2e6, "SAP SE"),
    ("SIE", 14236, "EUR", "IBIS", 180.0, 1.0, 0.24, 1.5e6, "SIEMENS AG-REG"),
    ("ASML", 117902840, "EUR", "AEB", 650.0, 1.3, 0.35, 1e6, "ASML HOLDING NV"),
    ("RY", 9028, "CAD", "TSE", 170.0, 0.8, 0.17, 4e6, "ROYAL BANK OF CANADA"),
    ("SHOP", 195014116, "CAD", "TSE", 150.0, 1.6, 0.55, 2e6, "SHOPIFY INC - CLASS A"),
    ("TD", 9046, "CAD", "TSE", 80.0, 0.8, 0.18, 5e6, "TORONTO-DOMINION BANK"),
]

_TZ_BY_CURRENCY = {"USD": "US/Eastern", "EUR": "Europe/Berlin", "CAD": "America/Toronto"}

VIX_CON_ID = 13455763
VIX3M_CON_ID = 122496219
SPX_CON_ID = 416904
PCR_CON_ID = 900000001


def _stocks() -> list[Instrument]:
    out = [
        Instrument(
            con_id=cid, symbol=sym, sec_type="STK", exchange="SMART", primary_exchange=prim,
            currency="USD", long_name=name, sector=sector, ref_price=px, beta=beta, vol=vol,
            daily_volume=volume, valid_exchanges=("SMART", prim, "ISLAND", "ARCA", "NYSE"),
        )
        for sym, cid, prim, sector, px, beta, vol, volume, name in _US
    ]
    out += [
        Instrument(
            con_id=cid, symbol=sym, sec_type="STK", exchange="SMART", primary_exchange=prim,
            currency=cur, long_name=name, sector=f"{cur}MKT", ref_price=px, beta=beta, vol=vol,
            daily_volume=volume, time_zone=_TZ_BY_CURRENCY[cur], valid_exchanges=("SMART", prim),
        )
        for sym, cid, cur, prim, px, beta, vol, volume, name in _FOREIGN
    ]
    return out


def _indices() -> list[Instrument]:
    def ind(cid: int, sym: str, name: str, px: float, tick: float = 0.01) -> Instrument:
        return Instrument(
            con_id=cid, symbol=sym, sec_type="IND", exchange="CBOE", primary_exchange="",
            currency="USD", long_name=name, ref_price=px, daily_volume=0.0, min_tick=tick,
            valid_exchanges=("CBOE",),
        )

    return [
        ind(VIX_CON_ID, "VIX", "CBOE Volatility Index", 16.0),
        ind(VIX3M_CON_ID, "VIX3M", "CBOE 3-Month Volatility Index", 18.0),
        ind(SPX_CON_ID, "SPX", "S&P 500 Stock Index", 5800.0),
        ind(PCR_CON_ID, "PCR", "CBOE Equity Put/Call Ratio", 0.65, 0.001),
    ]


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 14)


@functools.lru_cache(maxsize=1)
def _xnys() -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS", start="1985-01-01")


def is_session(day: dt.date) -> bool:
    cal = _xnys()
    ts = pd.Timestamp(day)
    if ts > cal.last_session:
        return day.weekday() < 5
    return bool(cal.is_session(ts))


def _previous_business_day(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while not is_session(day):
        day -= dt.timedelta(days=1)
    return day


def vix_expiry(year: int, month: int) -> dt.date:
    """Final settlement of the VIX future for (year, month): the Wednesday 30 days
    before the third Friday of the following month (shifted when holidays interfere)."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = _third_friday(ny, nm)
    if not is_session(friday):
        friday = _previous_business_day(friday)
    expiry = friday - dt.timedelta(days=30)
    if not is_session(expiry):
        expiry = _previous_business_day(expiry)
    return expiry


#: IB's symbol of each VIX future root (its trading class): the full-size future is listed
#: under the index's symbol, the mini under its own (CFE, multiplier 100)
FUTURE_SYMBOLS = {"VX": "VIX", "VXM": "VXM"}
#: the trading class a CONTFUT request without one gets, by symbol
DEFAULT_CLASS = {"VIX": "VX", "VXM": "VXM"}


def _vix_future(root: str, expiry: dt.date, month: tuple[int, int]) -> Instrument:
    year, mon = month
    code = FUTURE_MONTH_CODES[mon - 1]
    base = 600_000_000 if root == "VX" else 610_000_000
    return Instrument(
        con_id=base + int(expiry.strftime("%y%m%d")), symbol=FUTURE_SYMBOLS[root], sec_type="FUT",
        exchange="CFE", primary_exchange="", currency="USD",
        long_name=f"CBOE Volatility Index {'Mini ' if root == 'VXM' else ''}Future",
        ref_price=18.0, daily_volume=5e4, multiplier=1000 if root == "VX" else 100,
        expiry=expiry.strftime("%Y%m%d"), local_symbol=f"{root}{code}{year % 10}",
        trading_class=root, min_tick=0.05 if root == "VX" else 0.01,
        valid_exchanges=("CFE",),
    )


def vix_futures(today: dt.date, count: int = FUTURES_LISTED) -> list[Instrument]:
    """VX and VXM futures listed on `today`: the next `count` monthly expiries."""
    out: list[Instrument] = []
    year, month = today.year, today.month
    n = 0
    while n < count:
        expiry = vix_expiry(year, month)
        if expiry >= today:
            out.append(_vix_future("VX", expiry, (year, month)))
            out.append(_vix_future("VXM", expiry, (year, month)))
            n += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


class Universe:
    """Looks contracts up the way TWS resolves a reqContractDetails request."""

    def __init__(self) -> None:
        self._static = _stocks() + _indices()
        self._by_con_id = {i.con_id: i for i in self._static}
        self._futures_day: dt.date | None = None
        self._futures: list[Instrument] = []

    def futures(self, today: dt.date) -> list[Instrument]:
        if today != self._futures_day:
            self._futures = vix_futures(today)
            self._futures_day = today
            for f in self._futures:
                self._by_con_id[f.con_id] = f
        return self._futures

    def all(self, today: dt.date) -> list[Instrument]:
        return self._static + self.futures(today)

    def static(self) -> list[Instrument]:
        return list(self._static)

    def by_con_id(self, con_id: int) -> Instrument | None:
        return self._by_con_id.get(con_id)

    def by_symbol(self, symbol: str) -> Instrument | None:
        for i in self._static:
            if i.symbol == symbol:
                return i
        return None

    def future_for(self, con_id: int) -> Instrument | None:
        inst = self._by_con_id.get(con_id)
        if inst is not None and inst.sec_type == "FUT":
            return inst
        return None

    def resolve(self, today: dt.date, *, con_id: int = 0, symbol: str = "",
                sec_type: str = "", exchange: str = "", currency: str = "",
                expiry: str = "", local_symbol: str = "", trading_class: str = "",
                multiplier: str = "") -> list[Instrument]:
        """All instruments matching the given (partial) contract description."""
        if con_id:
            self.futures(today)
            inst = self._by_con_id.get(con_id)
            return [inst] if inst is not None else []
        out = []
        sec = sec_type.upper()
        if sec == "CONTFUT":
            klass = trading_class or DEFAULT_CLASS.get(symbol.upper(), symbol.upper())
            return [f for f in self.futures(today)
                    if f.symbol == symbol.upper() and f.klass == klass][:1]
        for inst in self.all(today):
            if symbol and inst.symbol != symbol.upper():
                continue
            if local_symbol and inst.local != local_symbol:
                continue
            if not symbol and not local_symbol:
                continue
            if sec and inst.sec_type != sec:
                continue
            if exchange and exchange.upper() not in inst.valid_exchanges:
                continue
            if currency and inst.currency != currency.upper():
                continue
            if expiry and not inst.expiry.startswith(expiry):
                continue
            if trading_class and inst.klass != trading_class:
                continue
            if multiplier and inst.sec_type == "FUT" and float(multiplier) != inst.multiplier:
                continue
            out.append(inst)
        return out
