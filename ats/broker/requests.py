"""A broker desk's answers to the bus's requests (registered by ats.broker.service): pre-trade
approval, the books, halts, limits, transfers and reconciliation of one venue. The state they
read and write is the desk's (ats.broker.main.Broker)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ats.broker import limits_store, order_store
from ats.broker.intents import OPEN_STATUSES, IntentLog, IntentStatus
from ats.broker.ledger import UNATTRIBUTED, Ledger
from ats.broker.ledger_store import LedgerStore
from ats.broker.risk import Limits, RiskEngine
from ats.broker.syncer import BackgroundSync
from ats.broker.tradingstate import TradingState, TradingStates
from ats.broker.transfers import Request, TransferRefused, make_transfer
from ats.errors import Code
from ats.ib import adapter
from ats.ib.venueclock import VenueClock
from ats.orders import ref as orderref
from ats.orders.contract import (
    IN_FLIGHT_GRACE,
    ApprovalRequest,
    BookedExecution,
    BookReply,
    Decision,
)
from ats.orders.intent import OrderIntent
from bus import topics
from bus.clone import CloneState
from bus.errors import Code as BusCode
from bus.errors import RequestError
from bus.publisher import Publisher

log = logging.getLogger("ats.broker")


def number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if abs(v) < 1e300 else None


class DeskRequests:
    """The request handlers (m_NAME answers NAME) of a desk."""

    ledger: Ledger
    intents: IntentLog
    states: TradingStates
    risk: RiskEngine
    publisher: Publisher
    ib: adapter.IB
    connected: bool
    syncer: BackgroundSync
    store: LedgerStore
    storage_error: str | None
    limits_path: Path
    changed_limits: dict[str | None, Limits]
    registered: set[str]
    orders: CloneState
    account: CloneState
    clock: VenueClock
    breaks: dict[int, dict[str, Any]]
    sync_approvals: bool

    if TYPE_CHECKING:
        def _set_order(self, order_ref: str, strategy: str, row: dict[str, Any]) -> None: ...
        def _storage_failed(self, exc: BaseException) -> None: ...
        def _publish_books(self, strategy: str, con_id: int | None = None) -> None: ...
        def own_orders(self) -> dict[str, dict[str, Any]]: ...
        def clone_key(self, strategy: str, *rest: str) -> str: ...
        def check_reconciliation(self) -> int: ...
        async def refresh_clients(self) -> None: ...

    def m_approve(self, p: dict[str, Any]) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Pre-trade risk of an ApprovalRequest, answered with a Decision. An approval is in
        the intent log before it is returned: written, and with [broker] sync_approvals also
        fsync'd (the group commit that holds it has synced). Without it the answer is
        immediate, so the service replies without a task per approval."""
        try:
            req = ApprovalRequest.decode(p)
        except ValueError as exc:
            raise RequestError(Code.BAD_PARAMS, str(exc)) from exc
        strategy = req.strategy
        state, whose = self.states.binding(strategy)
        if state is TradingState.HALTED:
            return Decision(False, "halted", f"trading HALTED for {whose}",
                            "trading_state").encode()
        if not self.connected:
            return Decision(False, "disconnected", "broker is disconnected from the venue: "
                            "orders refused until it reconnects", None).encode()
        if self.storage_error:
            return Decision(False, "storage", f"ledger storage failing ({self.storage_error}): "
                            "orders refused", None).encode()
        intent = req.intent(0, time.time())
        decision = self.risk.check(intent, self.ledger, self.states, time.time(),
                                   client_id=req.client_id)
        if not decision.approved:
            log.warning("risk refused %s %s %g %s: %s", strategy, intent.side, intent.quantity,
                        intent.symbol, decision.reason)
            out = decision.encode()
            self.publisher.publish(topics.risk(strategy), "rejected",
                                   {**out, "symbol": intent.symbol, "side": intent.side,
                                    "quantity": intent.quantity})
            return out
        intent = dataclasses.replace(intent, intent_id=self.intents.next_id())
        try:
            self.intents.approve(intent, durable=False)
        except OSError as exc:  # not in the log, so never sent
            self._storage_failed(exc)
            return Decision(False, "storage", f"ledger storage failing ({exc}): orders "
                            "refused", None).encode()
        if self.sync_approvals:
            return self._approved_once_synced(self.syncer.request(), req, intent, decision)
        self._sync_soon()
        return self._approved(req, intent, decision)

    def _sync_soon(self) -> None:
        """Wake the group commit once this callback is over: the reply, sent within it, goes
        out before the fsync thread wakes to compete for the GIL."""
        try:
            asyncio.get_running_loop().call_soon(self.syncer.request)
        except RuntimeError:  # called outside the loop: now
            self.syncer.request()

    async def _approved_once_synced(self, ticket: int, req: ApprovalRequest,
                                    intent: OrderIntent, decision: Decision) -> dict[str, Any]:
        try:
            await self.syncer.synced(ticket)
        except OSError as exc:
            # Never sent, so never at the venue: the intent is resolved as refused here.
            self.intents.mark(intent.intent_id, IntentStatus.REJECTED, durable=False,
                              reason=f"intent log not synced: {exc}")
            return Decision(False, "storage", f"ledger storage failing ({exc}): orders "
                            "refused", None).encode()
        return self._approved(req, intent, decision)

    def _approved(self, req: ApprovalRequest, intent: OrderIntent,
                  decision: Decision) -> dict[str, Any]:
        self._set_order(intent.order_ref, req.strategy, {
            "order_ref": intent.order_ref, "strategy": req.strategy, "symbol": intent.symbol,
            "con_id": intent.con_id, "side": intent.side, "quantity": intent.quantity,
            "order_type": intent.order_type, "status": "Approved", "filled": 0.0,
            "avg_price": None, "perm_id": 0, "client_id": req.client_id})
        return decision.approve(intent).encode()

    def m_order_rejected(self, p: dict[str, Any]) -> dict[str, Any]:
        """A host reports that the venue refused its order (error 201). The master connection
        never sees a refused order, so the intent is resolved here, at once and durably."""
        ref, reason = str(p.get("order_ref", "")), str(p.get("reason", ""))
        parsed = orderref.parse(ref)
        rec = self.intents.get(parsed[1]) if parsed else None
        if parsed is None or rec is None:
            raise RequestError(BusCode.BAD_PARAMS, f"no approved intent has orderRef {ref!r}")
        strategy = parsed[0]
        if rec.status in OPEN_STATUSES:
            rec = self.intents.mark(rec.intent.intent_id, IntentStatus.REJECTED, reason=reason)
            log.warning("order %s of %s rejected by the venue: %s", ref, strategy, reason)
        row = self.orders.get(self.clone_key(strategy, ref))
        if row is not None:
            self._set_order(ref, strategy, {**row, "status": "Rejected", "reason": reason})
        return {"order_ref": ref, "status": str(rec.status)}

    def m_book(self, p: dict[str, Any]) -> dict[str, Any]:
        """The strategy's BookReply."""
        strategy = str(p.get("strategy", ""))
        # Approved but not yet seen at the venue: the host treats them as in flight, so its
        # strategy does not place them again while they may still arrive.
        now = time.time()
        return BookReply(
            positions=tuple((int(r["con_id"]), float(r["position"]))
                            for r in self.ledger.position_rows(strategy) if r["position"]),
            cash=self.ledger.cash(strategy),
            executions=tuple(
                BookedExecution(e.exec_id, e.con_id, e.signed_shares, e.price, e.multiplier,
                                commission)
                for e, commission in self.ledger.booked(strategy)),
            in_flight=tuple(
                rec.intent for rec in self.intents.unresolved()
                if rec.intent.strategy == strategy and rec.status is IntentStatus.PENDING
                and now - rec.intent.created <= IN_FLIGHT_GRACE),
            trading_state=str(self.states.effective(strategy)),
        ).encode()

    def m_positions(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return self.ledger.position_rows(p.get("strategy"))

    def m_pnl(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.ledger.pnl_row(s) for s in self.ledger.strategies()]

    def m_fills(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return self.ledger.recent_fills(p.get("strategy") or None, int(p.get("limit", 0) or 0))

    def m_orders(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return order_store.select(self.own_orders(), p.get("strategy"), bool(p.get("all")))

    async def m_equity(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """The equity curve: persisted samples plus those not yet written, at most `points`
        per strategy (evenly thinned)."""
        stored = await asyncio.to_thread(self.store.read_equity_df)
        frames = [d for d in (stored, self.ledger.equity_df()) if len(d)]
        if not frames:
            return []
        df = pd.concat(frames)
        # ArcticDB gives its rows back without a time zone: every sample is UTC, and says so.
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
        if p.get("strategy"):
            df = df[df["strategy"] == p["strategy"]]
        points = int(p.get("points", 500))
        parts = [g.iloc[:: max(1, len(g) // points)] for _, g in df.groupby("strategy")]
        return records(pd.concat(parts)) if parts else []

    def m_account(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.account.state)

    def m_trading_state(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.states.to_dict()

    def m_intents(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        recs = self.intents.records() if p.get("all") else (
            self.intents.unresolved() + self.intents.flagged())
        return [r.to_dict() for r in recs]

    def m_limits(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.risk.snapshot()

    def m_set_limits(self, p: dict[str, Any]) -> dict[str, Any]:
        strategy = p.get("strategy")
        current = (self.risk.account_limits if strategy is None
                   else self.risk.limits_for(str(strategy))).to_mapping()
        try:
            limits = Limits.from_mapping({**current, **dict(p.get("limits") or {})})
        except ValueError as exc:
            raise RequestError(Code.BAD_PARAMS, str(exc)) from exc
        try:
            limits_store.save(self.limits_path, {**self.changed_limits, strategy: limits})
        except OSError as exc:
            raise RequestError(BusCode.INTERNAL, f"limits not changed: cannot keep them in "
                               f"{self.limits_path}: {exc}") from exc
        self.changed_limits[strategy] = limits
        self.risk.set_limits(strategy, limits)
        log.warning("risk limits of %s set to %s", strategy or "the account", limits.to_mapping())
        return self.risk.snapshot()

    async def m_halt(self, p: dict[str, Any]) -> dict[str, Any]:
        """Halt a strategy (its host cancels its open orders) or, with no strategy, the
        account (reqGlobalCancel). Persisted: survives restarts of every process."""
        strategy = p.get("strategy")
        reason = str(p.get("reason") or "operator halt")
        by = str(p.get("by") or "unknown")  #: who asked: cli:<user>, web:<session>, ...
        if strategy:
            self.states.set_strategy(str(strategy), TradingState.HALTED)
            self.publisher.publish(topics.risk(str(strategy)), "trading_state",
                                   {"state": "HALTED", "cancel": True, "reason": reason,
                                    "by": by})
        else:
            self.states.set_global(TradingState.HALTED)
            self.publisher.publish(topics.risk("all"), "trading_state",
                                   {"state": "HALTED", "cancel": True, "reason": reason,
                                    "by": by})
            if self.connected:
                adapter.global_cancel(self.ib)
        log.warning("HALT %s by %s: %s", strategy or "account", by, reason)
        flattened = await self._flatten(strategy) if p.get("flatten") else []
        return {"trading_state": self.states.to_dict(), "flatten_orders": flattened}

    def m_resume(self, p: dict[str, Any]) -> dict[str, Any]:
        strategy = p.get("strategy")
        if strategy:
            self.states.set_strategy(str(strategy), TradingState.ACTIVE)
            topic = topics.risk(str(strategy))
        else:
            self.states.set_global(TradingState.ACTIVE)
            topic = topics.risk("all")
        by = str(p.get("by") or "unknown")
        self.publisher.publish(topic, "trading_state", {"state": "ACTIVE", "cancel": False,
                                                        "reason": "operator resume", "by": by})
        log.warning("RESUME %s by %s", strategy or "account", by)
        return self.states.to_dict()

    async def _flatten(self, strategy: str | None) -> list[str]:
        """Close positions with market orders attributed to their strategy (by orderRef)."""
        if not self.connected:
            raise RequestError(Code.DISCONNECTED, "cannot flatten while disconnected")
        refs = []
        for row in self.ledger.position_rows(strategy):
            owner, con_id, qty = str(row["strategy"]), int(row["con_id"]), float(row["position"])
            if not qty or owner == UNATTRIBUTED:
                continue
            details = await self.ib.reqContractDetailsAsync(adapter.Contract(conId=con_id))
            if not details:
                log.error("flatten: venue does not know conId %s", con_id)
                continue
            contract = adapter.details_contract(details[0])
            side = "SELL" if qty > 0 else "BUY"
            intent = OrderIntent(
                intent_id=self.intents.next_id(), strategy=owner, con_id=con_id,
                symbol=str(row["symbol"]), sec_type=str(row["sec_type"]), side=side,
                quantity=abs(qty), order_type="MKT", limit_price=None, stop_price=None,
                tif="DAY", multiplier=float(contract.multiplier or 1),
                ref_price=float(row["mark"] or 0.0), created=time.time())
            self.intents.approve(intent)
            order = adapter.MarketOrder(side, intent.quantity, orderRef=intent.order_ref)
            self.ib.placeOrder(contract, order)
            refs.append(intent.order_ref)
            log.warning("flatten %s: %s %g %s (%s)", owner, side, intent.quantity,
                        row["symbol"], intent.order_ref)
        return refs

    async def m_assign(self, p: dict[str, Any]) -> dict[str, Any]:
        """Move part of a position between books (ats.broker.transfers): journalled (fsync)
        before it is booked, once per `transfer_id` (a repeat answers the transfer booked)."""
        try:
            req = Request(
                transfer_id=str(p["transfer_id"]), symbol=str(p["symbol"]),
                quantity=float(p["quantity"]), source=str(p.get("source") or UNATTRIBUTED),
                dest=str(p["dest"]), price=None if p.get("price") is None else float(p["price"]),
                reason=str(p.get("reason") or ""), by=str(p.get("by") or "unknown"),
                force=bool(p.get("force")),
                con_id=None if p.get("con_id") is None else int(p["con_id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RequestError(Code.BAD_PARAMS, f"bad assign request: {exc}") from exc
        if not req.transfer_id:
            raise RequestError(Code.BAD_PARAMS, "bad assign request: empty transfer_id")
        if not self.ledger.has_transfer(req.transfer_id):
            await self.refresh_clients()
            halted = {s for s in (req.source, req.dest)
                      if self.states.effective(s) is TradingState.HALTED}
            try:
                t = make_transfer(self.ledger, req, known=self.registered | {UNATTRIBUTED},
                                  halted=halted,
                                  time=self.clock.now().floor("us").to_pydatetime().isoformat())
            except TransferRefused as exc:
                raise RequestError(exc.code, str(exc)) from exc
            if self.ledger.has_transfer(req.transfer_id):  # booked while the registry answered
                return {"transfer": self.ledger.transfer_rows([req.transfer_id])}
            try:
                self.store.record_transfer(t)
            except OSError as exc:
                raise RequestError(BusCode.INTERNAL, f"not moved: the ledger's journal could "
                                   f"not record it: {exc}") from exc
            self.ledger.apply_transfer(t)
            log.warning("TRANSFER %s: %+g %s (conId %d) from %s to %s at %g by %s%s: %s",
                        t.transfer_id, t.quantity, t.symbol, t.con_id, t.source, t.dest,
                        t.price, t.by, " (forced)" if t.forced else "", t.reason or "-")
            for event in self.ledger.transfer_events([t.transfer_id]):
                self.publisher.publish(topics.fill(event.strategy), event.bus_type,
                                       event.encode())
            for strategy in (t.source, t.dest):
                self._publish_books(strategy, t.con_id)
        return {"transfer": self.ledger.transfer_rows([req.transfer_id])}

    def m_reconcile(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"breaks": list(self.breaks.values()), "checked": self.check_reconciliation()}


def records(df: Any) -> list[dict[str, Any]]:
    """DataFrame rows as msgpack-safe dicts (timestamps as ISO strings, NaN as None)."""
    out = []
    for row in df.to_dict("records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if hasattr(v, "isoformat"):
                v = v.isoformat()
            elif isinstance(v, float) and v != v:
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            clean[str(k)] = v
        out.append(clean)
    return out
