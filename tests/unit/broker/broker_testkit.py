"""Stub factories for the broker core tests."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from ats import config
from ats.orders.contract import ApprovalRequest
from ats.orders.fills import CommissionReport, Execution
from ats.orders.intent import OrderIntent

if TYPE_CHECKING:
    from ats.broker.main import Broker

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
_ids = itertools.count(1)


def exec_id(n: int, correction: int = 1) -> str:
    return f"0000e0d5.{n:08x}.01.{correction:02x}"


def fill(
    side: str,
    shares: float,
    price: float,
    *,
    n: int | None = None,
    correction: int = 1,
    ref: str = "ats:alpha:1",
    client_id: int = 11,
    con_id: int = 265598,
    symbol: str = "AAPL",
    sec_type: str = "STK",
    multiplier: float = 1.0,
    perm_id: int = 1000,
) -> Execution:
    n = next(_ids) if n is None else n
    return Execution(
        exec_id=exec_id(n, correction), perm_id=perm_id, order_id=n, client_id=client_id,
        order_ref=ref, account="DU123", con_id=con_id, symbol=symbol, sec_type=sec_type,
        currency="USD", multiplier=multiplier, side=side, shares=shares, price=price,
        time=T0 + timedelta(seconds=n),
    )


def commission(e: Execution | str, amount: float) -> CommissionReport:
    eid = e if isinstance(e, str) else e.exec_id
    return CommissionReport(exec_id=eid, commission=amount, currency="USD", realized_pnl=None)


def intent(
    side: str = "BUY",
    quantity: float = 10,
    *,
    strategy: str = "alpha",
    intent_id: int = 1,
    con_id: int = 265598,
    ref_price: float = 100.0,
    multiplier: float = 1.0,
) -> OrderIntent:
    return OrderIntent(
        intent_id=intent_id, strategy=strategy, con_id=con_id, symbol="AAPL", sec_type="STK",
        side=side, quantity=quantity, order_type="LMT", limit_price=ref_price, stop_price=None,
        tif="DAY", multiplier=multiplier, ref_price=ref_price, created=0.0,
    )


# -- a Broker without sockets or venue --------------------------------------------------------


class FakePublisher:
    """Takes the place of the broker's PUB socket: records every publication."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []  #: (topic, type, body)

    def publish(self, topic: str, type: str, body: dict[str, Any]) -> int:
        self.sent.append((topic, type, body))
        return len(self.sent)

    def bodies(self, type: str) -> list[dict[str, Any]]:
        return [body for _, t, body in self.sent if t == type]

    def close(self) -> None:
        pass


class FakeVenue:
    """The master connection as reconciliation reads it: `account` is the account's position
    per conId."""

    def __init__(self) -> None:
        self.account: dict[int, float] = {}
        self.global_cancels = 0

    def reqGlobalCancel(self) -> None:
        self.global_cancels += 1

    def isConnected(self) -> bool:
        return True

    def positions(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(contract=SimpleNamespace(conId=con_id), position=qty)
                for con_id, qty in self.account.items()]

    def disconnect(self) -> None:
        pass


@contextmanager
def broker_in(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    """A real Broker on a fresh ATS_HOME (real ledger store on LMDB, intent log, trading states,
    risk, group commit), connected to a FakeVenue and publishing into a FakePublisher; its
    service is never bound, so it opens no socket."""
    from ats.broker import main as broker_main

    monkeypatch.setattr(broker_main, "Publisher", FakePublisher)
    broker = broker_main.Broker(config.init_home(home))
    broker.ib = FakeVenue()
    broker.connected = True
    try:
        yield broker
    finally:
        broker.syncer.close()
        broker.store.close(flush=False)
        broker.intents.close()
        broker.sync_zctx.term()
        broker.zctx.term()


def approve_params(side: str = "BUY", quantity: float = 10, *, strategy: str = "alpha",
                   con_id: int = 265598, price: float = 100.0) -> dict[str, Any]:
    """The body of an `approve` request, as a strategy host sends it."""
    return ApprovalRequest(strategy=strategy, con_id=con_id, symbol="AAPL", sec_type="STK",
                           side=side, quantity=quantity, order_type="LMT", limit_price=price,
                           client_id=11, ref_price=price).encode()


def decide(broker: Broker, params: dict[str, Any]) -> dict[str, Any]:
    """The broker's answer to an `approve` request, immediate or awaited (sync_approvals)."""
    out = broker.m_approve(params)
    if inspect.isawaitable(out):
        return asyncio.run(asyncio.wait_for(out, 30))
    return out


def venue_fill(e: Execution) -> SimpleNamespace:
    """An execution as the IB client library delivers it (the attributes parsing reads)."""
    execution = SimpleNamespace(
        execId=e.exec_id, permId=e.perm_id, orderId=e.order_id, clientId=e.client_id,
        orderRef=e.order_ref, acctNumber=e.account, side=e.side, shares=e.shares,
        price=e.price, time=e.time)
    contract = SimpleNamespace(conId=e.con_id, symbol=e.symbol, secType=e.sec_type,
                               currency=e.currency, multiplier=str(e.multiplier))
    return SimpleNamespace(execution=execution, contract=contract, commissionReport=None)
