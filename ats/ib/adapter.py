"""The one place the IB client library is imported.

ib_async is the default. Set ``ATS_IB_LIB=ib_insync`` to run on ib_insync 0.9.86 instead (its
own venv: the two cannot share one). Everything else in ats imports IB names from here.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

IB_LIB = os.environ.get("ATS_IB_LIB", "ib_async")
if IB_LIB not in ("ib_async", "ib_insync"):
    raise ImportError(f"ATS_IB_LIB must be ib_async or ib_insync, got {IB_LIB!r}")
if TYPE_CHECKING:
    import ib_async

    ib = ib_async
else:
    # The drop-in seam, and the one Any: the library is chosen at runtime and ib_insync (untyped)
    # has ib_async's names and shapes, so mypy checks every use against ib_async's own types.
    ib: Any = importlib.import_module(IB_LIB)

IB = ib.IB
Contract = ib.Contract
Stock = ib.Stock
Index = ib.Index
Future = ib.Future
Order = ib.Order
MarketOrder = ib.MarketOrder
LimitOrder = ib.LimitOrder
StopOrder = ib.StopOrder
StopLimitOrder = ib.StopLimitOrder
ExecutionFilter = ib.ExecutionFilter
OrderStatus = ib.OrderStatus
util = ib.util
# What the venue hands back: named here so that ats annotates with them.
Trade = ib.Trade
Fill = ib.Fill
CommissionReport = ib.CommissionReport
ContractDetails = ib.ContractDetails
Ticker = ib.Ticker
BarData = ib.BarData
RealTimeBarList = ib.RealTimeBarList
AccountValue = ib.AccountValue
PortfolioItem = ib.PortfolioItem

log = logging.getLogger("ats.ib")

# Error codes a Gateway sends that the processes act on.
CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
FARM_BROKEN = (2103, 2105, 2157)
FARM_OK = (2104, 2106, 2158)
CLIENT_ID_IN_USE = 326
DUPLICATE_ORDER_ID = 103
ORDER_REJECTED = 201


class Backoff:
    """Capped exponential backoff with full jitter."""

    def __init__(self, base: float = 0.5, cap: float = 10.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.attempt = 0


class _RetriedConnectFailure(logging.Filter):
    """Logs the client library's own 'API connection failed' lines as WARNING: connect retries
    them, and an ERROR line for every retry of a Gateway still starting reads as a fault."""

    PREFIXES = ("API connection failed", "Make sure API port")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith(self.PREFIXES):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_CLIENT_LOG = logging.getLogger(f"{IB_LIB}.client")
_CLIENT_LOG.addFilter(_RetriedConnectFailure())


async def qualify(ib_: IB, contract: Contract) -> Contract | None:
    """`contract` qualified at the venue (its conId filled in), or None when the venue does not
    know it: ib_async answers None for it, ib_insync leaves it out."""
    found = await ib_.qualifyContractsAsync(contract)
    # ib_async types each item `Contract | list[Contract | None] | None`: the list is only
    # returnAll=True's answer to an ambiguous contract, never asked here.
    first = cast("Contract | None", found[0]) if found else None
    return first if getattr(first, "conId", 0) else None


def global_cancel(ib_: IB) -> None:
    """IB.reqGlobalCancel, which ib_async leaves unannotated (strict mypy refuses the call)."""
    cast("Callable[[], None]", ib_.reqGlobalCancel)()


def details_contract(details: ContractDetails) -> Contract:
    """A ContractDetails' contract. ib_async types it `Contract | None` (its dataclass default),
    but the client fills it in every ContractDetails it decodes."""
    return cast("Contract", details.contract)


async def connect(
    ib_: IB,
    host: str,
    port: int,
    client_id: int,
    *,
    timeout: float = 10.0,
    account: str = "",
    readonly: bool = False,
    stop: asyncio.Event | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> None:
    """Connect with retries until connected or ``stop`` is set.

    326 (clientId in use, typically our own previous process not yet reaped by the Gateway) is
    retried with the SAME clientId: a strategy never takes another strategy's id.
    """
    backoff = Backoff()
    while True:
        try:
            await ib_.connectAsync(host, port, clientId=client_id, timeout=timeout,
                                   account=account, readonly=readonly)
            return
        except (TimeoutError, OSError, ConnectionError) as exc:
            ib_.disconnect()
            delay = backoff.next()
            if on_retry is not None:
                on_retry(backoff.attempt, exc, delay)
            else:
                log.warning("connect %s:%s clientId=%s failed (%s); retry in %.1fs",
                            host, port, client_id, exc or type(exc).__name__, delay)
            if stop is not None:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    raise asyncio.CancelledError("stopped while connecting")
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(delay)
