"""Each check of `ats-ctl doctor`, against a connected IB client (a Gateway or the simulator).

A check gives one row: OK, INFO, WARN (it works, but look), or FAIL (it would fail live).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from ats.apiclients import MAX_API_CLIENTS
from ats.ib import adapter, parsing
from ats.sdk.instrument import Instrument
from ats.sdk.loader import StrategyLoadError, load_strategy
from ats.sdk.params import ParamError

OK, INFO, WARN, FAIL = "OK", "INFO", "WARN", "FAIL"
MIN_SERVER_VERSION = 157  #: the oldest both ib_insync and ib_async speak
MAX_SKEW = 2.0  #: seconds of clock difference tolerated against a real Gateway
MARKET_DATA_WAIT = 3.0  #: seconds to wait for a first tick or an error
#: what the venue says about market data, by error code
DATA_ERRORS = {
    354: (FAIL, "not subscribed to market data for it"),
    10167: (WARN, "delayed market data displayed: no live subscription"),
    10197: (FAIL, "no market data: a competing live session holds it"),
}
DATA_TYPES = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed frozen"}


@dataclass(frozen=True)
class Row:
    check: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def server_version(ib: adapter.IB) -> Row:
    v = int(ib.client.serverVersion())
    if v < MIN_SERVER_VERSION:
        return Row("server version", FAIL, f"v{v}: ib_insync/ib_async need v{MIN_SERVER_VERSION}+")
    return Row("server version", OK, f"v{v}")


def accounts(ib: adapter.IB, configured: str) -> list[Row]:
    """Paper accounts start with D (DU, DF); any other is live and trades real money."""
    found = list(ib.managedAccounts())
    rows = []
    for acct in found:
        if acct.startswith("D"):
            rows.append(Row(f"account {acct}", OK, "paper"))
        else:
            rows.append(Row(f"account {acct}", WARN,
                            "LIVE ACCOUNT: every order the system places trades real money"))
    if configured and configured not in found:
        rows.append(Row("[venue] account", FAIL,
                        f"{configured} is not among the accounts the venue manages: "
                        f"{', '.join(found) or 'none'}"))
    if not found:
        rows.append(Row("accounts", FAIL, "the venue reported no managed account"))
    return rows


async def clock_skew(ib: adapter.IB, simulated: bool, wall: Callable[[], float] = time.time) -> Row:
    venue = (await ib.reqCurrentTimeAsync()).timestamp()
    skew = venue - wall()
    if simulated:
        return Row("clock", INFO, f"simulated: the venue's clock reads "
                                  f"{pd.Timestamp(venue, unit='s', tz='UTC'):%Y-%m-%d %H:%M:%S} "
                                  f"UTC ({skew:+.0f} s from this machine)")
    if abs(skew) > MAX_SKEW:
        return Row("clock", WARN, f"{skew:+.1f} s from the Gateway's time: sync this machine "
                                  "(NTP); bars and schedules follow the venue's clock")
    return Row("clock", OK, f"{skew:+.2f} s from the Gateway's time")


def client_ids(entries: Mapping[str, Mapping[str, Any]], reserved: Mapping[str, int]) -> Row:
    """The strategies' clientIds and the system's own (broker, data, doctor) against the cap."""
    by_id: dict[int, list[str]] = {}
    for name, e in entries.items():
        by_id.setdefault(int(e["client_id"]), []).append(name)
    for name, cid in reserved.items():
        by_id.setdefault(int(cid), []).append(name)
    shared = {cid: names for cid, names in by_id.items() if len(names) > 1}
    if shared:
        return Row("clientIds", FAIL, "; ".join(f"{cid} used by {', '.join(n)}"
                                                for cid, n in sorted(shared.items())))
    n = len(by_id)
    status = FAIL if n > MAX_API_CLIENTS else WARN if n > MAX_API_CLIENTS - 4 else OK
    return Row("clientIds", status, f"{n} in use of IB's {MAX_API_CLIENTS} per Gateway")


def nightly_restart(simulated: bool) -> Row:
    if simulated:
        return Row("nightly restart", INFO, "the simulator restarts only when told to "
                                            "(admin nightly_restart)")
    return Row("nightly restart", INFO,
               "IB Gateway restarts once a day at its auto-restart time (set in the Gateway or "
               "IBC; 23:45 America/New_York unless changed), and the system reconnects on its "
               "own: keep no scheduled decision within 15 minutes of it")


class _ChainContext:
    """What a strategy may ask while listing its subscriptions: the futures chains."""

    def __init__(self, chains: Mapping[str, list[Instrument]]) -> None:
        self.chains = chains

    def futures_chain(self, symbol: str) -> list[Instrument]:
        return list(self.chains.get(symbol, []))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"doctor lists subscriptions only: {name} is not available")


async def instruments_of(ib: adapter.IB, entry: Mapping[str, Any]) -> list[Instrument]:
    """The instruments a registered strategy subscribes to, its futures chains from the venue.
    Raises StrategyLoadError or ParamError when it cannot be built."""
    cls = load_strategy(str(entry["spec"]))
    params = cls.params_type.from_mapping(entry.get("params") or {})
    chains: dict[str, list[Instrument]] = {}
    probe = cls(str(entry["name"]), params, _ChainContext(chains))  # type: ignore[arg-type]
    for symbol in sorted(set(probe.futures_symbols)):
        details = await ib.reqContractDetailsAsync(parsing.future_chain_query(symbol))
        chains[symbol] = sorted((parsing.from_contract(adapter.details_contract(d))
                                 for d in details),
                                key=lambda i: i.expiry or "")
    return [s.instrument for s in probe.subscriptions()]


async def market_data(ib: adapter.IB, contract: adapter.Contract) -> tuple[str, str]:
    """(status, detail) of streaming data for a qualified contract: a tick, or the venue's
    error for it (354, 10167, 10197)."""
    errors: list[int] = []

    def on_error(rid: int, code: int, msg: str, about: adapter.Contract | None = None) -> None:
        # The client names the contract of the request an error answers.
        if code in DATA_ERRORS and getattr(about, "conId", None) in (None, contract.conId):
            errors.append(code)

    ib.errorEvent += on_error
    ticker = ib.reqMktData(contract, "", False, False)
    try:
        deadline = time.monotonic() + MARKET_DATA_WAIT
        while time.monotonic() < deadline and not errors and not _priced(ticker):
            await asyncio.sleep(0.1)
    finally:
        ib.errorEvent -= on_error
        ib.cancelMktData(contract)
    if errors:
        return DATA_ERRORS[errors[0]]
    if not _priced(ticker):
        return WARN, f"no tick within {MARKET_DATA_WAIT:g} s (market closed?)"
    kind = DATA_TYPES.get(int(getattr(ticker, "marketDataType", 1) or 1), "unknown")
    return (OK if kind == "live" else WARN), f"{kind} data"


def _priced(ticker: adapter.Ticker) -> bool:
    return any(_finite(getattr(ticker, f, None)) for f in ("last", "bid", "ask", "close"))


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and x == x and x > 0


async def strategy_contracts(ib: adapter.IB, name: str, entry: Mapping[str, Any]) -> list[Row]:
    try:
        insts = await instruments_of(ib, entry)
    except (StrategyLoadError, ParamError) as exc:
        return [Row(f"{name}", FAIL, f"cannot be built: {exc}")]
    rows = []
    for inst in insts:
        label = f"{name}: {inst.key}"
        qualified = await adapter.qualify(ib, parsing.to_contract(inst))
        if qualified is None:
            rows.append(Row(label, FAIL, "does not qualify: the venue does not know it"))
            continue
        status, detail = await market_data(ib, qualified)
        rows.append(Row(label, status, f"conId {qualified.conId}; {detail}"))
    return rows or [Row(name, INFO, "subscribes to nothing")]


async def run(ib: adapter.IB, *, entries: Mapping[str, Mapping[str, Any]], account: str,
              simulated: bool, reserved: Mapping[str, int]) -> list[Row]:
    rows = [server_version(ib), *accounts(ib, account), await clock_skew(ib, simulated),
            client_ids(entries, reserved)]
    ib.reqMarketDataType(1)
    for name, entry in sorted(entries.items()):
        rows += await strategy_contracts(ib, name, entry)
    rows.append(nightly_restart(simulated))
    return rows


def connect_row(host: str, port: int, exc: BaseException) -> Row:
    return Row("connect", FAIL, f"{host}:{port}: {exc or type(exc).__name__}")
