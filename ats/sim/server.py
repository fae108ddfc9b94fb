"""asyncio TWS API server: accepts clients, keeps the registry of connected ones, broadcasts
the venue's order events to them and runs the periodic loops (matching, ticks, bars, account
updates, state saves). `faults.py` holds the admin's faults.

Each client is a `Session` (session.py); its requests go through the `HANDLERS` table
(handlers.py) to the handlers of each family (`*_requests.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ats.apiclients import MAX_API_CLIENTS
from ats.sim import account_requests, history_requests, market_requests
from ats.sim import messages as M
from ats.sim import state as state_file
from ats.sim.clock import SimClock, SteppedClock
from ats.sim.hist_pacing import HistoryPacing
from ats.sim.market import Market, Quote
from ats.sim.order_requests import report_open_orders
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.protocol import ContractSpec
from ats.sim.session import Session
from ats.sim.universe import Instrument, Universe
from ats.sim.venue import Venue

log = logging.getLogger("ats.sim.server")

TICK_INTERVAL = 0.25
BAR_INTERVAL = 0.25
ACCOUNT_INTERVAL = 1.0
MATCH_INTERVAL = 0.1
SAVE_INTERVAL = 1.0
FARM_OK = ((2104, "Market data farm connection is OK:usfarm"),
           (2106, "HMDS data farm connection is OK:ushmds"),
           (2158, "Sec-def data farm connection is OK:secdefnj"))


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 0
    admin_port: int | None = None
    seed: int = 1
    speed: float = 1.0
    start: dt.datetime | None = None
    accounts: list[str] = field(default_factory=lambda: ["DU0000001"])
    cash: float = 1_000_000.0
    master_client_id: int = 0
    max_msg_rate: int = 50
    state_path: Path | None = None
    check_funds: bool = False
    history_pacing: bool = True  #: error 162 for requests that break IB's historical pacing
    stepped: bool = False  #: the clock stands still until the admin command `advance`


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = self._clock(config.start)
        self.universe = Universe()
        self.market = Market(self.universe, config.seed)
        self.venue = Venue(self.universe, self.market, self.clock, config.accounts,
                           config.cash, config.check_funds)
        self.sessions: dict[int, Session] = {}
        # Not on a stepped clock: its time stands still between steps, so any two identical
        # requests of a step would be "within 15 s" however long apart they were sent.
        self.history_pacing = HistoryPacing(lambda: self.clock.timestamp(),
                                            config.history_pacing and not config.stepped)
        self.outage = False
        self.farm_down = False
        self.ack_delay = 0.0
        self.held_acks: list[Callable[[], None]] | None = None  #: None: not holding
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.venue.sink = self
        if config.state_path is not None:
            self._load_state(config.state_path)

    def acknowledge(self, action: Callable[[], None]) -> None:
        """Let the venue take an order or a cancel: now, after the admin's delay, or when the
        admin releases the held ones."""
        if self.held_acks is not None:
            self.held_acks.append(action)
        elif self.ack_delay > 0:
            asyncio.get_running_loop().call_later(self.ack_delay, action)
        else:
            action()

    def release_acks(self) -> int:
        held, self.held_acks = self.held_acks or [], None
        for action in held:
            action()
        return len(held)

    def _load_state(self, path: Path) -> None:
        data = state_file.load(path)
        if data is None:
            return
        self.venue.load_json(data)
        if data.get("sim_time"):
            # Time never runs backwards across a restart: resume from the saved instant, or
            # from the start (pinned, or the wall clock at speed 1) when that is later.
            resume = dt.datetime.fromtimestamp(float(data["sim_time"]), dt.UTC)
            floor = self.config.start
            if floor is None and self.config.speed == 1.0:
                floor = dt.datetime.now(dt.UTC)
            self.clock = self._clock(max(resume, floor) if floor else resume)
            self.venue.clock = self.clock
        expired = self.venue.expire_day_orders()  # sessions that closed while it was down
        log.info("state loaded from %s: %d orders (%d working, %d DAY orders expired), "
                 "%d executions", path, len(self.venue.orders), len(self.venue.working),
                 expired, len(self.venue.executions))

    def _clock(self, start: dt.datetime | None) -> SimClock:
        if self.config.stepped:
            return SteppedClock(start)
        return SimClock(start, self.config.speed)

    def save_state(self) -> None:
        if self.config.state_path is not None:
            state_file.save(self.config.state_path, self.venue.to_json())
            self.venue.dirty = False

    # ---- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Session(self), self.config.host,
                                                self.config.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        for coro in (self._match_loop(), self._tick_loop(), self._bar_loop(),
                     self._account_loop(), self._save_loop()):
            self._tasks.append(asyncio.create_task(coro))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions.values()):
            s.close()
        if self._server is not None:
            await self._server.wait_closed()
        self.save_state()

    def start_api(self, session: Session, client_id: int) -> None:
        if client_id in self.sessions:
            log.warning("client id %s in use; refusing %s", client_id, session.peer)
            self._refuse(session, "Unable to connect as the client id is already in use. "
                                  "Retry with a unique client id.")
            return
        if len(self.sessions) >= MAX_API_CLIENTS:
            # IB documents the cap (tws-api/connection.html: "each TWS session can receive up
            # to 32 different client applications simultaneously") but not its answer to one
            # more: its message codes have none for it. So the 33rd is refused as a Gateway
            # refuses any startApi, error 326 and the socket closed, which every client takes
            # as a failed connect (ib_async: "Peer closed connection"), with a text naming
            # the cap rather than a clientId in use.
            log.warning("%d API clients connected; refusing client id %s from %s",
                        len(self.sessions), client_id, session.peer)
            self._refuse(session, f"Unable to connect: the maximum of {MAX_API_CLIENTS} API "
                                  "clients is already connected. Retry when one disconnects.")
            return
        session.client_id = client_id
        session.stage = "ready"
        self.sessions[client_id] = session
        log.info("client %s connected from %s", client_id, session.peer)
        session.send(M.next_valid_id(self.venue.next_order_id))
        session.send(M.managed_accounts(self.venue.account_names))
        for code, text in FARM_OK:
            session.error(-1, code, text)
        # A Gateway feeds a client the open orders it placed as it connects (after a restart
        # of either side too): GTC orders, and DAY orders of a session still open.
        report_open_orders(self, session, everyone=False)

    def _refuse(self, session: Session, text: str) -> None:
        session.error(-1, 326, text)
        session.stage = "closed"
        session.close()

    def forget(self, session: Session) -> None:
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    # ---- broadcasting ---------------------------------------------------------------
    def _ordered_sessions(self, client_id: int) -> list[Session]:
        """The order's own client, then the master client."""
        out = []
        owner = self.sessions.get(client_id)
        if owner is not None:
            out.append(owner)
        master = self.sessions.get(self.config.master_client_id)
        if master is not None and master is not owner:
            out.append(master)
        return out

    # ---- VenueSink ------------------------------------------------------------------
    def order_changed(self, order: SimOrder, inst: Instrument) -> None:
        if self.outage:
            return  # lost: clients recover with reqOpenOrders/reqCompletedOrders
        for s in self._ordered_sessions(order.client_id):
            s.send(M.open_order(order, inst, s.version))
            s.send(M.order_status(order, s.version))

    def order_filled(self, order: SimOrder, execution: SimExecution, inst: Instrument) -> None:
        if self.outage:
            log.info("outage: execution %s not delivered", execution.exec_id)
            return  # lost: clients recover with reqExecutions
        for s in self._ordered_sessions(order.client_id):
            v = s.version
            for m in (M.open_order(order, inst, v), M.order_status(order, v),
                      M.exec_details(-1, execution, inst, v), M.commission_report(execution)):
                s.send(m)
        self._push_position(order.account, inst)

    def _push_position(self, acct: str, inst: Instrument) -> None:
        a = self.venue.accounts[acct]
        pos = a.positions.get(inst.con_id)
        if pos is None:
            return
        px = self.venue.price(inst)
        mv, unreal = a.position_value(inst, pos, px)
        for s in self.sessions.values():
            if s.positions_sub:
                s.send(M.position(acct, inst, pos.qty, round(pos.avg_cost, 8), s.version))
            if s.account_updates == acct:
                s.send(M.portfolio_value(inst, pos.qty, round(px, 6), round(mv, 4),
                                         round(pos.avg_cost, 8), round(unreal, 4),
                                         round(pos.realized, 4), acct, s.version))

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        s = self.sessions.get(client_id)
        if s is not None:
            s.error(order_id, code, text)

    # ---- contracts ------------------------------------------------------------------
    def resolve(self, spec: ContractSpec) -> list[Instrument]:
        return self.universe.resolve(
            self.clock.today(), con_id=spec.con_id, symbol=spec.symbol,
            sec_type=spec.sec_type, exchange=spec.exchange, currency=spec.currency,
            expiry=spec.expiry, local_symbol=spec.local_symbol,
            trading_class=spec.trading_class, multiplier=spec.multiplier)

    def resolve_one(self, session: Session, req_id: int, spec: ContractSpec,
                    ) -> Instrument | None:
        found = self.resolve(spec)
        if len(found) != 1:
            session.error(req_id, 200, "No security definition has been found for the request")
            return None
        return found[0]

    # ---- streams --------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            if self.outage or self.farm_down:
                continue
            now = self.clock.timestamp()
            quote = self._quote_cache(now)
            for s in list(self.sessions.values()):
                market_requests.stream(s, quote, now)

    def _quote_cache(self, now: float) -> Callable[[Instrument], Quote]:
        """The quote of an instrument at `now`, computed once for every session."""
        quotes: dict[int, Quote] = {}

        def quote(inst: Instrument) -> Quote:
            q = quotes.get(inst.con_id)
            if q is None:
                q = quotes[inst.con_id] = self.market.quote(inst, now)
            return q
        return quote

    async def _bar_loop(self) -> None:
        while True:
            await asyncio.sleep(BAR_INTERVAL)
            if self.outage or self.farm_down or self.config.stepped:
                continue  # a stepped clock's bars go out as `advance` moves it
            now = self.clock.timestamp()
            for s in list(self.sessions.values()):
                for req_id, sub in list(s.bars.items()):
                    history_requests.advance_bars(self, s, req_id, sub, now)

    # ---- periodic -------------------------------------------------------------------
    async def _match_loop(self) -> None:
        while True:
            await asyncio.sleep(MATCH_INTERVAL)
            # The exchange keeps trading through an outage; only the messages are lost.
            self.venue.step()

    async def _account_loop(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(ACCOUNT_INTERVAL)
            n += 1
            push_all = n % 5 == 0 or self.venue.accounts_changed
            self.venue.accounts_changed = False
            for s in list(self.sessions.values()):
                if s.account_updates and push_all:
                    account_requests.send_account(self, s, s.account_updates, end=False)
                for req_id, acct in s.pnl.items():
                    account_requests.send_pnl(self, s, req_id, acct)
                for req_id, (acct, con_id) in s.pnl_single.items():
                    account_requests.send_pnl_single(self, s, req_id, acct, con_id)

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL)
            if self.venue.dirty:
                try:
                    self.save_state()
                except OSError:
                    log.exception("state save failed")

    # ---- admin --------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "clients": sorted(self.sessions),
            "orders": len(self.venue.orders),
            "open_orders": len(self.venue.working),
            "positions": sum(1 for a in self.venue.accounts.values()
                             for p in a.positions.values() if p.qty),
            "executions": len(self.venue.executions),
            "sim_time": self.clock.now().isoformat(),
            "clock": "stepped" if self.config.stepped else "running",
            "outage": self.outage,
            "held_acks": len(self.held_acks or []),
        }


