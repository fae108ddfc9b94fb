"""asyncio TWS API server: one `Session` per client socket, one handler per request id.

Like ib_async's decoder, requests are dispatched through one table (`HANDLERS`) from
message id to a method that reads that message's fields in order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ats.apiclients import MAX_API_CLIENTS
from ats.data.pacing import HistRequest
from ats.sim import SERVER_VERSION, more_requests, whatif
from ats.sim import messages as M
from ats.sim import state as state_file
from ats.sim.clock import SimClock, SteppedClock
from ats.sim.hist_pacing import HistoryPacing
from ats.sim.history import VALID_WHAT, HistoryError, bar_seconds, duration_seconds, parse_end
from ats.sim.market import Bar, Market, Quote
from ats.sim.messages import Tick
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.protocol import (
    HANDSHAKE_PREFIX,
    ContractSpec,
    FieldError,
    FrameReader,
    ProtocolError,
    Reader,
    frame,
    split_fields,
)
from ats.sim.universe import Instrument, Universe
from ats.sim.venue import Venue
from ats.sim.versions import (
    MAX_VERSION,
    MIN_VERSION,
    ORDER_CONTAINER,
    SYNT_REALTIME_BARS,
    negotiate,
)

log = logging.getLogger("ats.sim.server")

TICK_INTERVAL = 0.25
BAR_INTERVAL = 0.25
KEEP_UP_EVERY = 2.0  #: sim seconds between keepUpToDate updates of the forming bar
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


@dataclass
class MktSub:
    inst: Instrument
    last: dict[int, float] = field(default_factory=dict)


@dataclass
class BarSub:
    inst: Instrument
    seconds: int
    what: str
    next_time: float
    keep_up: bool = False  #: historicalDataUpdate rather than realtimeBar
    daily: bool = False
    format_date: int = 1
    tz: str = "UTC"
    rth: bool = False
    forming_sent: float = 0.0  #: sim time of the last forming-bar update (keepUpToDate)


class Session(asyncio.Protocol):
    """One API client connection."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.reader = FrameReader()
        self.stage = "prefix"  #: prefix -> version -> start -> ready -> closed
        self.client_id: int | None = None
        self.version = SERVER_VERSION  #: negotiated in the handshake; layouts follow it
        self.peer = ""
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._times: collections.deque[float] = collections.deque()
        self._pacing_warned = 0.0
        self.mkt: dict[int, MktSub] = {}
        self.tbt: dict[int, more_requests.TickByTickSub] = {}
        self.depth: dict[int, more_requests.DepthSub] = {}
        self.bars: dict[int, BarSub] = {}
        self.account_updates: str | None = None
        self.positions_sub = False
        self.pnl: dict[int, str] = {}
        self.pnl_single: dict[int, tuple[str, int]] = {}
        self.held: list[list[str]] = []

    # ---- transport ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stage = "closed"
        self.server.forget(self)
        log.info("client %s disconnected (%s)", self.client_id, self.peer)

    def send(self, fields: list[object]) -> None:
        if self.stage == "closed" or self.transport is None:
            return
        self._out.append(frame(fields))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(M.error(req_id, code, text, self.version))

    def close(self) -> None:
        self._flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ---- inbound --------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        try:
            if self.stage == "prefix":
                self.reader._buf += data
                ok = self.reader.take_prefix(HANDSHAKE_PREFIX)
                if ok is None:
                    return
                if not ok:
                    raise ProtocolError("connection did not start with API\\0")
                self.stage = "version"
                data = b""
            for payload in self.reader.feed(data):
                self._on_frame(payload)
        except ProtocolError as exc:
            log.warning("client %s (%s) protocol error: %s; closing", self.client_id,
                        self.peer, exc)
            self.abort()

    def _on_frame(self, payload: bytes) -> None:
        if self.stage == "version":
            text = payload.decode(errors="replace")
            hs = negotiate(text)
            if hs is None:
                raise ProtocolError(f"bad version string {text!r}")
            now = time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime())
            self.version = hs.version
            self.send([hs.version, now])
            if not hs.accepted:
                # What a Gateway does: answer its own version, which the client refuses.
                log.warning("client %s offers v%d..%d, outside v%d..%d: refused", self.peer,
                            hs.client_min, hs.client_max, MIN_VERSION, MAX_VERSION)
                self.stage = "closed"
                self._flush()
                if self.transport is not None:
                    self.transport.close()
                return
            log.info("handshake from %s: %s -> server version %d", self.peer, text,
                     hs.version)
            self.stage = "start"
            return
        fields = split_fields(payload)
        if not fields:
            return
        if self.stage == "start":
            if fields[0] != "71":
                raise ProtocolError(f"expected startApi, got message {fields[0]!r}")
            try:
                client_id = int(fields[2])
            except (IndexError, ValueError):
                raise ProtocolError(f"bad startApi fields {fields!r}") from None
            self.server.start_api(self, client_id)
            return
        if self.stage != "ready":
            return
        if not self._pace():
            return
        if self.server.outage:
            self.held.append(fields)
            return
        self.server.dispatch(self, fields)

    def _pace(self) -> bool:
        limit = self.server.config.max_msg_rate
        if limit <= 0:
            return True
        now = time.monotonic()
        times = self._times
        while times and now - times[0] >= 1.0:
            times.popleft()
        if len(times) >= limit:
            if now - self._pacing_warned >= 1.0:
                self._pacing_warned = now
                log.warning("client %s exceeded %d msg/s", self.client_id, limit)
                self.error(-1, 100, f"Max rate of messages per second has been exceeded:"
                                    f"max={limit} rec={len(times) + 1} (1)")
            return False
        times.append(now)
        return True


Handler = Callable[["Server", Session, Reader], None]


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
        self.report_open_orders(session, everyone=False)

    def _refuse(self, session: Session, text: str) -> None:
        session.error(-1, 326, text)
        session.stage = "closed"
        session.close()

    def report_open_orders(self, session: Session, everyone: bool) -> None:
        """openOrder and orderStatus for each working order the session may see (its own, or
        all); held orders (transmit=False, not yet transmitted) are not at the venue yet."""
        for order in self.venue.working.values():
            if order.held or not (everyone or order.client_id == session.client_id):
                continue
            inst = self.venue.instrument(order.con_id)
            if inst is not None:
                session.send(M.open_order(order, inst, session.version))
                session.send(M.order_status(order, session.version))

    def forget(self, session: Session) -> None:
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    # ---- dispatch -------------------------------------------------------------------
    def dispatch(self, session: Session, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except ValueError:
            log.warning("client %s sent non-numeric message id %r", session.client_id,
                        fields[0][:20])
            session.error(-1, 321, f"Error validating request:-'message id' {fields[0][:20]!r}")
            return
        handler = HANDLERS.get(msg_id)
        if handler is None and more_requests.refuse(self, session, msg_id, fields):
            return
        if handler is None:
            log.warning("client %s sent unknown message id %s", session.client_id, msg_id)
            session.error(-1, 321, f"Error validating request:-'unsupported message id "
                                   f"{msg_id}'")
            return
        try:
            handler(self, session, Reader(fields))
        except FieldError as exc:
            req_id = _maybe_int(fields, 2 if len(fields) > 2 else 1)
            log.warning("client %s malformed message %s: %s", session.client_id, msg_id, exc)
            session.error(req_id, 321, f"Error validating request:-'{msg_id}' : {exc}")
        except Exception:
            log.exception("client %s request %s failed", session.client_id, msg_id)
            session.error(-1, 321, f"Error validating request:-'{msg_id}' : internal error")

    def _ordered_sessions(self, client_id: int) -> list[Session]:
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

    # ---- market data ----------------------------------------------------------------
    def _ticks(self, inst: Instrument, q: Quote) -> list[tuple[int, float, float]]:
        """(tickType, price, size) for price ticks; size ticks have price NaN."""
        nan = math.nan
        if inst.sec_type == "IND":
            return [(Tick.LAST, q.last, 0.0), (Tick.HIGH, q.high, 0.0), (Tick.LOW, q.low, 0.0),
                    (Tick.CLOSE, q.close, 0.0), (Tick.OPEN, q.open, 0.0)]
        return [(Tick.BID, q.bid, q.bid_size), (Tick.ASK, q.ask, q.ask_size),
                (Tick.LAST, q.last, q.last_size), (Tick.VOLUME, nan, q.volume),
                (Tick.HIGH, q.high, 0.0), (Tick.LOW, q.low, 0.0), (Tick.CLOSE, q.close, 0.0),
                (Tick.OPEN, q.open, 0.0)]

    def send_ticks(self, session: Session, req_id: int, sub: MktSub, q: Quote) -> int:
        sent = 0
        for tick_type, price, size in self._ticks(sub.inst, q):
            key_value = size if math.isnan(price) else price * 1e9 + size
            if sub.last.get(tick_type) == key_value:
                continue
            sub.last[tick_type] = key_value
            if math.isnan(price):
                session.send(M.tick_size(req_id, tick_type, size, session.version))
            else:
                session.send(M.tick_price(req_id, tick_type, price, size, session.version))
            sent += 1
        return sent

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            if self.outage or self.farm_down:
                continue
            now = self.clock.timestamp()
            quotes: dict[int, Quote] = {}
            for s in list(self.sessions.values()):
                for req_id, sub in list(s.mkt.items()):
                    q = quotes.get(sub.inst.con_id)
                    if q is None:
                        q = quotes[sub.inst.con_id] = self.market.quote(sub.inst, now)
                    self.send_ticks(s, req_id, sub, q)
                if s.tbt or s.depth:
                    more_requests.stream(s, self._quote_cache(quotes, now), now)

    def _quote_cache(self, quotes: dict[int, Quote], now: float,
                     ) -> Callable[[Instrument], Quote]:
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
                    self._advance_bars(s, req_id, sub, now)

    def _advance_bars(self, s: Session, req_id: int, sub: BarSub, now: float) -> None:
        sent = 0
        while sub.next_time + sub.seconds <= now and sent < 200:
            t0 = sub.next_time
            if sub.keep_up and sub.daily:
                bars = self.market.daily_bars(sub.inst, dt.datetime.fromtimestamp(
                    now, dt.UTC).date(), 1, sub.what, now)
            else:
                bars = self.market.intraday_bars(sub.inst, t0, t0 + sub.seconds, sub.seconds,
                                                 sub.what, sub.rth)
            for bar in bars:
                if sub.keep_up:
                    s.send(M.historical_data_update(req_id, bar, sub.daily, sub.format_date,
                                                    sub.tz, s.version))
                else:
                    s.send(M.real_time_bar(req_id, bar, s.version))
            sub.next_time += sub.seconds
            sent += 1
        if sub.keep_up and sent == 0 and not sub.daily and \
                now - sub.forming_sent >= KEEP_UP_EVERY:
            # The forming bar, from what has traded so far in it (intraday_bars cuts at now).
            sub.forming_sent = now
            t0 = sub.next_time
            partial = self.market.intraday_bars(sub.inst, t0, max(now, t0 + 1), sub.seconds,
                                                sub.what, sub.rth)
            for bar in partial[:1]:
                s.send(M.historical_data_update(req_id, bar, False, sub.format_date, sub.tz,
                                                s.version))

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
                    self.send_account(s, s.account_updates, end=False)
                for req_id, acct in s.pnl.items():
                    self.send_pnl(s, req_id, acct)
                for req_id, (acct, con_id) in s.pnl_single.items():
                    self.send_pnl_single(s, req_id, acct, con_id)

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL)
            if self.venue.dirty:
                try:
                    self.save_state()
                except OSError:
                    log.exception("state save failed")

    # ---- account messages -----------------------------------------------------------
    def account_values(self, acct: str) -> list[tuple[str, str, str]]:
        a = self.venue.accounts[acct]
        summary = a.summary(self.venue.instrument, self.venue.price)
        out = [(k, f"{v:.2f}", "USD") for k, v in summary.items()]
        for cur, v in a.cash.items():
            out.append(("CashBalance", f"{v:.2f}", cur))
        out += [("CashBalance", f"{summary['TotalCashValue']:.2f}", "BASE"),
                ("TotalCashBalance", f"{summary['TotalCashValue']:.2f}", "BASE"),
                ("NetLiquidationByCurrency", f"{summary['NetLiquidation']:.2f}", "BASE"),
                ("AccountCode", acct, ""), ("AccountType", "INDIVIDUAL", ""),
                ("Currency", "USD", "USD")]
        return out

    def send_account(self, s: Session, acct: str, end: bool = True) -> None:
        if acct not in self.venue.accounts:
            return
        for key, value, cur in self.account_values(acct):
            s.send(M.account_value(key, value, cur, acct))
        a = self.venue.accounts[acct]
        for pos in a.positions.values():
            inst = self.venue.instrument(pos.con_id)
            if inst is None or (not pos.qty and not pos.realized):
                continue
            px = self.venue.price(inst)
            mv, unreal = a.position_value(inst, pos, px)
            s.send(M.portfolio_value(inst, pos.qty, round(px, 6), round(mv, 4),
                                     round(pos.avg_cost, 8), round(unreal, 4),
                                     round(pos.realized, 4), acct, s.version))
        s.send(M.account_time(self.clock.timestamp()))
        if end:
            s.send(M.account_download_end(acct))

    def send_pnl(self, s: Session, req_id: int, acct: str) -> None:
        a = self.venue.accounts.get(acct)
        if a is None:
            return
        summary = a.summary(self.venue.instrument, self.venue.price)
        day = self.clock.now().strftime("%Y%m%d")
        start = a.day_start.setdefault(day, summary["NetLiquidation"])
        s.send(M.pnl(req_id, round(summary["NetLiquidation"] - start, 2),
                     round(summary["UnrealizedPnL"], 2), round(summary["RealizedPnL"], 2),
                     s.version))

    def send_pnl_single(self, s: Session, req_id: int, acct: str, con_id: int) -> None:
        a = self.venue.accounts.get(acct)
        inst = self.venue.instrument(con_id)
        if a is None or inst is None:
            return
        pos = a.positions.get(con_id)
        qty = pos.qty if pos else 0.0
        mv, unreal = a.position_value(inst, pos, self.venue.price(inst)) if pos else (0.0, 0.0)
        realized = pos.realized if pos else 0.0
        s.send(M.pnl_single(req_id, qty, round(unreal + realized, 2), round(unreal, 2),
                            round(realized, 2), round(mv, 2), s.version))

    # ---- faults ---------------------------------------------------------------------
    def broadcast_error(self, code: int, text: str) -> None:
        for s in list(self.sessions.values()):
            s.error(-1, code, text)

    async def run_outage(self, seconds: float, data_lost: bool) -> None:
        log.warning("outage begins for %.1fs data_lost=%s", seconds, data_lost)
        self.outage = True
        self.broadcast_error(1100, "Connectivity between IB and Trader Workstation has been "
                                   "lost.")
        await asyncio.sleep(seconds)
        self.outage = False
        if data_lost:
            for s in self.sessions.values():
                s.mkt.clear()
                s.bars.clear()
                s.tbt.clear()
                s.depth.clear()
            self.broadcast_error(1101, "Connectivity between IB and Trader Workstation has "
                                       "been restored - data lost.")
        else:
            self.broadcast_error(1102, "Connectivity between IB and Trader Workstation has "
                                       "been restored - data maintained.")
        log.warning("outage ends")
        for s in list(self.sessions.values()):
            held, s.held = s.held, []
            for fields in held:
                self.dispatch(s, fields)

    async def run_farm_disconnect(self, seconds: float) -> None:
        self.farm_down = True
        self.broadcast_error(2103, "Market data farm connection is broken:usfarm")
        self.broadcast_error(2105, "HMDS data farm connection is broken:ushmds")
        await asyncio.sleep(seconds)
        self.farm_down = False
        self.broadcast_error(2104, "Market data farm connection is OK:usfarm")
        self.broadcast_error(2106, "HMDS data farm connection is OK:ushmds")

    def drop_client(self, client_id: int) -> bool:
        s = self.sessions.get(client_id)
        if s is None:
            return False
        log.warning("dropping client %s", client_id)
        s.abort()
        return True

    def drop_all(self) -> int:
        n = len(self.sessions)
        for s in list(self.sessions.values()):
            s.abort()
        return n

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


def _maybe_int(fields: list[str], i: int) -> int:
    try:
        return int(fields[i])
    except (IndexError, ValueError):
        return -1


# ---- request handlers (client -> server), one per message id ---------------------------

def _req_mkt_data(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    spec = r.contract()
    if spec.sec_type == "BAG":
        n = r.int()
        r.skip(4 * n)
    if r.bool():
        r.skip(3)
    r.str()  # generic tick list
    snapshot = r.bool()
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    sub = MktSub(inst)
    s.send(M.market_data_type(req_id, 1))
    q = srv.market.quote(inst, srv.clock.timestamp())
    if snapshot:
        srv.send_ticks(s, req_id, sub, q)
        s.send(M.tick_snapshot_end(req_id))
        return
    s.mkt[req_id] = sub
    srv.send_ticks(s, req_id, sub, q)


def _cancel_mkt_data(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.mkt.pop(r.int(), None)


def _place_order(srv: Server, s: Session, r: Reader) -> None:
    if s.version < ORDER_CONTAINER:
        r.skip()  # message version
    order_id = r.int()
    spec = r.contract()
    r.skip(2)  # secIdType, secId
    action = r.str().upper()
    qty = r.float() or 0.0
    order_type = r.str().upper()
    lmt = r.float()
    aux = r.float()
    tif = r.str().upper() or "DAY"
    oca = r.str()
    account = r.str()
    r.skip(2)  # openClose, origin
    order_ref = r.str()
    transmit = r.bool()
    parent_id = r.int()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = r.bool()
    try:
        tail = whatif.read_tail(r, s.version)
    except FieldError:
        tail = whatif.OrderTail(0, False)  # a shorter layout than ibapi's: defaults
    what_if = tail.what_if
    assert s.client_id is not None
    found = srv.resolve(spec)
    if len(found) != 1:
        srv.venue.max_order_id = max(srv.venue.max_order_id, order_id)
        s.error(order_id, 200, "No security definition has been found for the request")
        return
    inst = found[0]
    if what_if:
        _answer_what_if(srv, s, SimOrder(s.client_id, order_id, 0, account, inst.con_id,
                                         action, qty, order_type, lmt, aux, tif,
                                         order_ref=order_ref, status="PreSubmitted"), inst)
        return
    order = SimOrder(s.client_id, order_id, 0, account, inst.con_id, action, qty, order_type,
                     lmt, aux, tif, order_ref=order_ref, oca_group=oca,
                     outside_rth=outside_rth, parent_id=parent_id, oca_type=tail.oca_type,
                     transmit=transmit)
    srv.acknowledge(lambda: srv.venue.place(order, inst))


def _answer_what_if(srv: Server, s: Session, order: SimOrder, inst: Instrument) -> None:
    """A Gateway answers a what-if order with one openOrder carrying the margin and
    commission preview; nothing is placed or executed."""
    srv.venue.max_order_id = max(srv.venue.max_order_id, order.order_id)
    acct = order.account if order.account in srv.venue.accounts else srv.venue.account_names[0]
    order.account = acct
    account = srv.venue.accounts[acct]
    summary = account.summary(srv.venue.instrument, srv.venue.price)
    price = order.lmt_price if order.order_type == "LMT" and order.lmt_price else \
        srv.venue.price(inst)
    pv = whatif.preview(account, summary, inst, order.action, order.total_qty, price,
                        srv.clock.now().strftime("%Y%m"))
    s.send(M.open_order(order, inst, s.version, pv.order_state_fields(s.version)))


def _cancel_order(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    order_id = r.int()
    assert s.client_id is not None
    client_id = s.client_id
    srv.acknowledge(lambda: srv.venue.cancel(client_id, order_id))


def _send_open_orders(srv: Server, s: Session, everyone: bool) -> None:
    srv.report_open_orders(s, everyone)
    s.send(M.open_order_end())


def _req_open_orders(srv: Server, s: Session, r: Reader) -> None:
    _send_open_orders(srv, s, everyone=s.client_id == srv.config.master_client_id)


def _req_all_open_orders(srv: Server, s: Session, r: Reader) -> None:
    _send_open_orders(srv, s, everyone=True)


def _req_auto_open_orders(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    r.bool()


def _req_account_updates(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    subscribe = r.bool()
    acct = r.str() or srv.venue.account_names[0]
    if not subscribe:
        s.account_updates = None
        return
    if acct not in srv.venue.accounts:
        s.error(-1, 321, f"Error validating request:-'account' : unknown account {acct}")
        return
    s.account_updates = acct
    srv.send_account(s, acct)


def _req_executions(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    client_id = r.int()
    acct = r.str()
    since = r.str()
    symbol = r.str().upper()
    sec_type = r.str().upper()
    exchange = r.str().upper()
    side = r.str().upper()
    t_min = parse_end(since, 0.0) if since else 0.0
    side_map = {"BUY": "BOT", "SELL": "SLD", "BOT": "BOT", "SLD": "SLD"}
    for e in srv.venue.executions:
        inst = srv.venue.instrument(e.con_id)
        if inst is None:
            continue
        if client_id and e.client_id != client_id:
            continue
        if acct and e.account != acct:
            continue
        if e.time < t_min or (symbol and inst.symbol != symbol):
            continue
        if (sec_type and inst.sec_type != sec_type) or (exchange and e.exchange != exchange):
            continue
        if side and side_map.get(side) != e.side:
            continue
        s.send(M.exec_details(req_id, e, inst, s.version))
        s.send(M.commission_report(e))
    s.send(M.exec_details_end(req_id))


def _req_ids(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.next_valid_id(srv.venue.next_order_id))


def _req_contract_details(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    spec = r.contract()
    found = srv.resolve(spec)
    if not found:
        s.error(req_id, 200, "No security definition has been found for the request")
        return
    for inst in found:
        exch = spec.exchange.upper() if spec.exchange.upper() in inst.valid_exchanges \
            else inst.exchange
        s.send(M.contract_data(req_id, inst, exch, s.version))
    s.send(M.contract_data_end(req_id))


def _req_managed_accts(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.managed_accounts(srv.venue.account_names))


def _req_historical_data(srv: Server, s: Session, r: Reader) -> None:
    if s.version < SYNT_REALTIME_BARS:
        r.skip()  # message version
    req_id = r.int()
    spec = r.contract()
    r.bool()  # includeExpired
    end_text = r.str()
    bar_size = r.str()
    duration = r.str()
    rth = r.bool()
    what = r.str().upper() or "TRADES"
    format_date = r.int(1)
    if spec.sec_type == "BAG":
        r.skip(4 * r.int())
    keep_up = r.bool() if s.version >= SYNT_REALTIME_BARS else False
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    if srv.farm_down or srv.outage:
        s.error(req_id, 162, "Historical Market Data Service error message:HMDS data farm "
                             "connection is broken")
        return
    try:
        if what not in VALID_WHAT:
            raise HistoryError(321, f"Error validating request:-'whatToShow' : {what!r}")
        secs = bar_seconds(bar_size)
        span, unit = duration_seconds(duration)
        now = srv.clock.timestamp()
        end = min(parse_end(end_text, now), now)
        if keep_up and end_text:
            raise HistoryError(321, "Error validating request:-'endDateTime' must be empty "
                                    "with keepUpToDate")
        srv.history_pacing.check(HistRequest(str(inst.con_id), spec.exchange, what, bar_size,
                                             duration, end_text))
        daily = secs >= 86400
        start = end - span
        if daily:
            end_day = dt.datetime.fromtimestamp(end, dt.UTC).date()
            n_days = span // 86400 if unit != "D" else int(span // 86400 * 1.5) + 3
            bars = srv.market.daily_bars(inst, end_day, max(n_days, 1), what, now)
            if unit == "D":
                bars = bars[-(span // 86400):]
            bars = _aggregate(bars, secs)
        else:
            if span / secs > 100_000:
                raise HistoryError(162, "Historical Market Data Service error message:"
                                        "Time length exceed max.")
            # "N D" counts sessions back from the end (on a weekend: the last sessions)
            start = srv.market.sessions_back(inst, end, span // 86400, rth) if unit == "D" \
                else end - span
            bars = srv.market.intraday_bars(inst, start, end, secs, what, rth,
                                            complete_only=not keep_up)
    except HistoryError as exc:
        s.error(req_id, exc.code, exc.text)
        return
    def fmt_ts(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")

    s.send(M.historical_data(req_id, fmt_ts(start), fmt_ts(end), bars, daily,
                             format_date, inst.time_zone, s.version))
    if keep_up:
        nxt = (math.floor(now / secs) * secs) if not daily else now
        s.bars[req_id] = BarSub(inst, secs if not daily else 86400, what, nxt, keep_up=True,
                                daily=daily, format_date=format_date, tz=inst.time_zone,
                                rth=rth)


def _aggregate(bars: list[Bar], secs: int) -> list[Bar]:
    if secs <= 86400 or not bars:
        return bars
    out: list[Bar] = []
    group: list[Bar] = []

    def key(b: Bar) -> tuple[int, int]:
        d = dt.datetime.fromtimestamp(b.time, dt.UTC).date()
        if secs >= 28 * 86400:
            return d.year, d.month
        iso = d.isocalendar()
        return iso[0], iso[1]

    for b in bars:
        if group and key(group[0]) != key(b):
            out.append(_merge(group))
            group = []
        group.append(b)
    out.append(_merge(group))
    return out


def _merge(group: list[Bar]) -> Bar:
    vol = sum(b.volume for b in group) if group[0].volume >= 0 else group[0].volume
    return Bar(group[0].time, group[0].open, max(b.high for b in group),
               min(b.low for b in group), group[-1].close, vol,
               round(sum(b.wap for b in group) / len(group), 4), sum(b.count for b in group))


def _cancel_historical_data(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.bars.pop(r.int(), None)


def _req_current_time(srv: Server, s: Session, r: Reader) -> None:
    s.send(M.current_time(srv.clock.timestamp()))


def _req_real_time_bars(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    spec = r.contract()
    size = r.int(5)
    what = r.str().upper() or "TRADES"
    rth = r.bool()
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    if size != 5:
        s.error(req_id, 321, "Error validating request:-'bar size' : only 5 second bars")
        return
    now = srv.clock.timestamp()
    s.bars[req_id] = BarSub(inst, 5, what, math.floor(now / 5) * 5, rth=rth)


def _cancel_real_time_bars(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    s.bars.pop(r.int(), None)


def _req_global_cancel(srv: Server, s: Session, r: Reader) -> None:
    srv.venue.global_cancel()


def _req_market_data_type(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    r.int()


def _req_positions(srv: Server, s: Session, r: Reader) -> None:
    s.positions_sub = True
    for name, acc in srv.venue.accounts.items():
        for pos in acc.positions.values():
            inst = srv.venue.instrument(pos.con_id)
            if inst is not None and pos.qty:
                s.send(M.position(name, inst, pos.qty, round(pos.avg_cost, 8), s.version))
    s.send(M.position_end())


def _req_account_summary(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    r.str()  # group
    tags = {t.strip() for t in r.str().split(",") if t.strip()}
    for name in srv.venue.account_names:
        for key, value, cur in srv.account_values(name):
            if cur == "BASE" or (tags and "All" not in tags and key not in tags):
                continue
            s.send(M.account_summary(req_id, name, key, value, cur))
    s.send(M.account_summary_end(req_id))


def _cancel_positions(srv: Server, s: Session, r: Reader) -> None:
    s.positions_sub = False


def _req_positions_multi(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    acct = r.str()
    for name, acc in srv.venue.accounts.items():
        if acct and acct != name:
            continue
        for pos in acc.positions.values():
            inst = srv.venue.instrument(pos.con_id)
            if inst is not None and pos.qty:
                s.send(M.position_multi(req_id, name, inst, pos.qty, round(pos.avg_cost, 8)))
    s.send(M.position_multi_end(req_id))


def _req_account_updates_multi(srv: Server, s: Session, r: Reader) -> None:
    r.skip()
    req_id = r.int()
    acct = r.str() or srv.venue.account_names[0]
    if acct in srv.venue.accounts:
        for key, value, cur in srv.account_values(acct):
            s.send(M.account_update_multi(req_id, acct, key, value, cur))
    s.send(M.account_update_multi_end(req_id))


def _req_pnl(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    acct = r.str() or srv.venue.account_names[0]
    s.pnl[req_id] = acct
    srv.send_pnl(s, req_id, acct)


def _cancel_pnl(srv: Server, s: Session, r: Reader) -> None:
    s.pnl.pop(r.int(), None)


def _req_pnl_single(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    acct = r.str() or srv.venue.account_names[0]
    r.str()
    con_id = r.int()
    s.pnl_single[req_id] = (acct, con_id)
    srv.send_pnl_single(s, req_id, acct, con_id)


def _cancel_pnl_single(srv: Server, s: Session, r: Reader) -> None:
    s.pnl_single.pop(r.int(), None)


def _req_completed_orders(srv: Server, s: Session, r: Reader) -> None:
    for order in srv.venue.orders.values():
        if order.is_done:
            inst = srv.venue.instrument(order.con_id)
            if inst is not None:
                s.send(M.completed_order(order, inst, s.version))
    s.send(M.completed_orders_end())


def _req_head_timestamp(srv: Server, s: Session, r: Reader) -> None:
    req_id = r.int()
    spec = r.contract()
    r.bool()  # includeExpired
    r.bool()  # useRTH
    what = r.str().upper() or "TRADES"
    inst = srv.resolve_one(s, req_id, spec)
    if inst is None:
        return
    try:  # served by the same historical farm, so paced with reqHistoricalData
        srv.history_pacing.check(HistRequest(str(inst.con_id), spec.exchange, what,
                                             "head timestamp", "", ""))
    except HistoryError as exc:
        s.error(req_id, exc.code, exc.text)
        return
    s.send(M.head_timestamp(req_id, "19800102-14:30:00"))


HANDLERS: dict[int, Handler] = {
    1: _req_mkt_data,
    2: _cancel_mkt_data,
    3: _place_order,
    4: _cancel_order,
    5: _req_open_orders,
    6: _req_account_updates,
    7: _req_executions,
    8: _req_ids,
    9: _req_contract_details,
    15: _req_auto_open_orders,
    16: _req_all_open_orders,
    17: _req_managed_accts,
    20: _req_historical_data,
    25: _cancel_historical_data,
    49: _req_current_time,
    50: _req_real_time_bars,
    51: _cancel_real_time_bars,
    58: _req_global_cancel,
    59: _req_market_data_type,
    61: _req_positions,
    62: _req_account_summary,
    64: _cancel_positions,
    74: _req_positions_multi,
    76: _req_account_updates_multi,
    87: _req_head_timestamp,
    92: _req_pnl,
    93: _cancel_pnl,
    94: _req_pnl_single,
    95: _cancel_pnl_single,
    99: _req_completed_orders,
    **more_requests.HANDLERS,
}

