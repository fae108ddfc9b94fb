"""The JSON API under /api/: what the pages call, documented for scripts (README, "Web console").

Reads are open; every POST needs a session and its CSRF token (``ats.web.auth``), is written to
the audit log, and is the manager or broker request that the matching ats-ctl command makes.
Errors are ``{"error": {"code", "message"}}`` with the service's own code and message.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ats.report.benchmark import DEFAULT as DEFAULT_BENCHMARK
from ats.report.inputs import fills_frame, samples_frame, strategy_base
from ats.report.live import account_base, measure_books, table_rows
from ats.web import audit
from ats.web.auth import CSRF_HEADER, SESSION_TTL, Refused, Session
from ats.web.backend import DEFAULT_TIMEOUT, SLOW_TIMEOUT, http_status
from ats.web.console import Console, dumps
from ats.web.logtail import tail
from bus.errors import RequestError

#: seconds a failed login waits before it answers (the token is not guessable anyway)
LOGIN_FAILURE_DELAY = 0.5
#: methods that change nothing
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/api/login"
#: the most fills or log lines one request returns
MAX_ROWS = 5000


#: equity samples per book the Performance page measures (the broker thins evenly past this)
PERFORMANCE_POINTS = 20_000

Next = Callable[[Request], Awaitable[Response]]


def benchmark_bar(span: pd.Timedelta) -> str:
    """Bars fine enough for a chart of this span, and no finer."""
    return "1min" if span <= pd.Timedelta(days=2) else "1h" if span <= pd.Timedelta(days=60) \
        else "1d"


def benchmark_points(symbol: str, capital: float, closes: pd.Series,
                     start: pd.Timestamp) -> dict[str, Any]:
    """What `capital` invested in the benchmark at `start` would have gained at each close."""
    idx = pd.DatetimeIndex(closes.index)
    closes.index = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    before = closes[closes.index <= start]
    after = closes[closes.index > start]
    if not len(after) or capital <= 0:
        why = "no capital base" if capital <= 0 else \
            f"no {symbol} bars stored for these times: `ats-ctl data fetch {symbol}`"
        return {"symbol": symbol, "capital_base": capital, "points": [], "note": why}
    first = float(before.iloc[-1]) if len(before) else float(after.iloc[0])
    points = [{"ts": start.isoformat(), "pnl": 0.0}] if len(before) else []
    points += [{"ts": t.isoformat(), "pnl": capital * (float(c) / first - 1.0)}
               for t, c in after.items()]
    return {"symbol": symbol, "capital_base": capital, "points": points, "note": ""}


def performance_rows(samples: list[dict[str, Any]], fills: list[dict[str, Any]],
                     account: dict[str, Any], pnl: list[dict[str, Any]],
                     weights: dict[str, float]) -> dict[str, Any]:
    frame = samples_frame(samples)
    if frame.empty:
        return {"rows": [], "note": "no equity samples yet: the broker samples the books once "
                                    "something has traded"}
    base = account_base(account.values(), pnl)
    if base is None:
        return {"rows": [], "note": "the venue has not reported the account's NetLiquidation"}
    reports = measure_books(frame, fills_frame(fills), base,
                            "the venue's NetLiquidation less the P&L of every book", weights)
    return {"rows": table_rows(reports), "note": ""}


class LoginBody(BaseModel):
    token: str


class HaltBody(BaseModel):
    flatten: bool = Field(False, description="also close the positions with market orders")
    reason: str = "operator halt (web)"


class ParamsBody(BaseModel):
    changes: dict[str, str | int | float | bool | None] = Field(
        description="parameter -> new value; strings are coerced as `ats-ctl set` does")


class WeightsBody(BaseModel):
    target_weight: float | None = None
    min_weight: float | None = None
    max_weight: float | None = None
    force: bool = False


class LimitsBody(BaseModel):
    strategy: str | None = Field(None, description="whose limits; null with account=true")
    account: bool = Field(False, description="change the account-wide limits")
    limits: dict[str, float | None] = Field(description="limit -> value (null: the default)")


class AssignBody(BaseModel):
    symbol: str
    quantity: float = Field(description="follows the source's position: -50 of a short")
    to: str = Field(description="the strategy that takes it")
    source: str = Field("unattributed", alias="from",
                        description="the book that gives it: unattributed or a strategy")
    price: float | None = Field(None, description="cost basis (default: the source's average)")
    reason: str = ""
    force: bool = Field(False, description="also into or out of a HALTED strategy")
    con_id: int | None = Field(None, description="which contract, where several of symbol")


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def remote_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def changer(request: Request) -> Session:
    """The session making a change, which ``guard`` has let through."""
    session = getattr(request.state, "session", None)
    if not isinstance(session, Session):  # a route outside the guard's reach: refuse
        raise HTTPException(401, {"code": "UNAUTHORIZED", "message": "no session"})
    return session


#: a route's parameter: the session making the change
Changer = Annotated[Session, Depends(changer)]


def guard(console: Console) -> Callable[[Request, Next], Awaitable[Response]]:
    """Middleware: every request that may change something (any method but GET, HEAD and
    OPTIONS, except the login itself) needs a session and its CSRF token, before its route or
    its body is looked at. A refusal is audited and answered 401 or 403."""

    async def check(request: Request, call_next: Next) -> Response:
        if request.method in SAFE_METHODS or request.url.path == LOGIN_PATH:
            return await call_next(request)
        try:
            request.state.session = console.sessions.authorize(
                request.cookies.get(console.cookie), request.headers.get(CSRF_HEADER))
        except Refused as exc:
            console.audit.write("anonymous", remote_of(request),
                                f"{request.method} {request.url.path}", "", audit.REFUSED,
                                exc.message)
            return error(exc.status, "UNAUTHORIZED" if exc.status == 401 else "FORBIDDEN",
                         exc.message)
        return await call_next(request)

    return check


def router(console: Console) -> APIRouter:
    api = APIRouter(prefix="/api", default_response_class=JSON)

    async def ask(service: str, method: str, params: dict[str, Any] | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Any:
        try:
            return await console.backend.call(service, method, params or {}, timeout)
        except RequestError as exc:
            raise HTTPException(http_status(exc.code), {"code": exc.code,
                                                        "message": exc.message}) from exc


    async def act(request: Request, session: Session, action: str, target: str, service: str,
                  method: str, params: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> Any:
        """One change, through the service, audited with its result."""
        remote = remote_of(request)
        if (service, method) in (("broker", "halt"), ("broker", "resume")):
            params = {**params, "by": f"web:{session.who}"}  # said in the alert it raises
        try:
            result = await console.backend.call(service, method, params, timeout)
        except RequestError as exc:
            console.audit.write(session.who, remote, action, target, audit.FAILED,
                                f"{exc.code}: {exc.message}", params)
            raise HTTPException(http_status(exc.code), {"code": exc.code,
                                                        "message": exc.message}) from exc
        console.audit.write(session.who, remote, action, target, audit.OK, "", params)
        return {"result": result}

    # -- session ----------------------------------------------------------------------------

    @api.get("/session", summary="Whether this browser is logged in, and its CSRF token")
    def session(request: Request) -> Any:
        s = console.sessions.get(request.cookies.get(console.cookie))
        return {"logged_in": s is not None, "csrf": s.csrf if s else None,
                "who": s.who if s else None}

    @api.post("/login", summary="Log in with the token of `ats-ctl web token`")
    async def login(body: LoginBody, request: Request, response: Response) -> Any:
        remote = remote_of(request)
        s = console.sessions.login(body.token, remote)
        if s is None:
            console.audit.write("anonymous", remote, "login", "", audit.REFUSED, "wrong token")
            await asyncio.sleep(LOGIN_FAILURE_DELAY)
            raise HTTPException(401, {"code": "UNAUTHORIZED", "message": "wrong token"})
        console.audit.write(s.who, remote, "login", "", audit.OK)
        response.set_cookie(console.cookie, s.id, max_age=int(SESSION_TTL), httponly=True,
                            samesite="strict", secure=console.secure, path="/")
        return {"logged_in": True, "csrf": s.csrf, "who": s.who}

    @api.post("/logout", summary="End this session")
    def logout(request: Request, response: Response, s: Changer) -> Any:
        console.sessions.logout(s.id)
        console.audit.write(s.who, remote_of(request), "logout", "", audit.OK)
        response.delete_cookie(console.cookie, path="/")
        return {"logged_in": False}

    # -- reads ------------------------------------------------------------------------------

    @api.get("/status", summary="`ats-ctl status --json`: strategies, then processes")
    async def status() -> Any:
        return await ask("manager", "status")

    @api.get("/strategies", summary="`ats-ctl list --json`: the registry")
    async def strategies() -> Any:
        return await ask("manager", "list")

    @api.get("/strategies/{name}", summary="`ats-ctl show NAME --json`: params, weights, state")
    async def strategy(name: str) -> Any:
        return await ask("manager", "describe", {"name": name}, SLOW_TIMEOUT)

    @api.get("/strategies/{name}/log", summary="The last lines of its log (`ats-ctl logs`)")
    async def strategy_log(name: str, lines: int = 100) -> Any:
        try:
            text = await asyncio.to_thread(tail, console.log_dir, name,
                                           max(0, min(lines, MAX_ROWS)))
        except ValueError as exc:
            raise HTTPException(400, {"code": "BAD_NAME", "message": str(exc)}) from exc
        return {"name": name, "lines": text}

    @api.get("/positions", summary="`ats-ctl positions --json --all`")
    async def positions(strategy: str | None = None) -> Any:
        return await ask("broker", "positions", {"strategy": strategy} if strategy else {})

    @api.get("/pnl", summary="`ats-ctl pnl --json`: per strategy, with total_pnl")
    async def pnl() -> Any:
        rows = await ask("broker", "pnl")
        for r in rows:
            r["total_pnl"] = float(r["realized_pnl_net"]) + float(r["unrealized_pnl"])
        return rows

    @api.get("/orders", summary="`ats-ctl orders --json` (all=true: finished ones too)")
    async def orders(strategy: str | None = None, all: bool = False) -> Any:
        return await ask("broker", "orders", {"all": all, **({"strategy": strategy}
                                                              if strategy else {})})

    @api.get("/fills", summary="`ats-ctl fills --json`: the most recent `limit` (0: all)")
    async def fills(strategy: str | None = None, limit: int = 200) -> Any:
        params: dict[str, Any] = {"limit": max(0, min(limit, MAX_ROWS))}
        if strategy:
            params["strategy"] = strategy
        return await ask("broker", "fills", params)

    @api.get("/limits", summary="`ats-ctl limits --json`")
    async def limits() -> Any:
        return await ask("broker", "limits")

    @api.get("/account", summary="The venue's account values (tag|currency -> value)")
    async def account() -> Any:
        return await ask("broker", "account")

    @api.get("/reconcile", summary="`ats-ctl reconcile --json`: books + unattributed vs account")
    async def reconcile() -> Any:
        return await ask("broker", "reconcile")

    @api.get("/equity", summary="Equity samples (`ats-ctl pnl --plot`'s data)")
    async def equity(strategy: str | None = None, points: int = 500) -> Any:
        params: dict[str, Any] = {"points": max(1, min(points, MAX_ROWS))}
        if strategy:
            params["strategy"] = strategy
        return await ask("broker", "equity", params, SLOW_TIMEOUT)

    @api.get("/performance", summary="`ats-ctl report`'s figures of the account and of each "
             "strategy, since inception (without a benchmark: see `ats-ctl report`)")
    async def performance() -> Any:
        samples = await ask("broker", "equity", {"points": PERFORMANCE_POINTS}, SLOW_TIMEOUT)
        fills = await ask("broker", "fills", {"limit": 0}, SLOW_TIMEOUT)
        account = await ask("broker", "account")
        pnl = await ask("broker", "pnl")
        entries = await ask("manager", "list")
        weights = {str(e["name"]): float(e.get("target_weight") or 0.0) for e in entries}
        return await asyncio.to_thread(performance_rows, samples, fills, account, pnl, weights)

    @api.get("/strategies/{name}/benchmark",
             summary="Its benchmark (registry `benchmark`, else SPY) as the P&L its capital "
                     "base would have made holding it from `start`, from the stored bars")
    async def benchmark(name: str, start: str, end: str) -> Any:
        try:
            t0, t1 = (pd.to_datetime(t, utc=True) for t in (start, end))
        except ValueError as exc:
            raise HTTPException(400, {"code": "BAD_INPUT", "message": str(exc)}) from exc
        entry = await ask("manager", "get", {"name": name})
        account = await ask("broker", "account")
        pnl = await ask("broker", "pnl")
        symbol = (str(entry.get("benchmark") or "") or DEFAULT_BENCHMARK).upper()
        base = account_base(account.values(), pnl)
        capital, _ = strategy_base(float(entry.get("target_weight") or 0.0), base or 0.0)
        closes = (pd.Series(dtype=float) if console.closes is None else await asyncio.to_thread(
            console.closes, symbol, benchmark_bar(t1 - t0), t0 - pd.Timedelta(days=7), t1))
        return benchmark_points(symbol, capital, closes, t0)

    # -- changes ----------------------------------------------------------------------------

    @api.post("/strategies/{name}/start", summary="`ats-ctl start NAME`")
    async def start(name: str, request: Request, s: Changer) -> Any:
        return await act(request, s, "start", name, "manager", "start", {"name": name},
                         SLOW_TIMEOUT)

    @api.post("/strategies/{name}/stop", summary="`ats-ctl stop NAME`")
    async def stop(name: str, request: Request, s: Changer) -> Any:
        return await act(request, s, "stop", name, "manager", "stop", {"name": name},
                         SLOW_TIMEOUT)

    @api.post("/strategies/{name}/restart", summary="`ats-ctl restart NAME`")
    async def restart(name: str, request: Request, s: Changer) -> Any:
        return await act(request, s, "restart", name, "manager", "restart", {"name": name},
                         SLOW_TIMEOUT)

    @api.post("/strategies/{name}/halt", summary="`ats-ctl halt NAME [--flatten]`")
    async def halt(name: str, body: HaltBody, request: Request, s: Changer) -> Any:
        return await act(request, s, "halt", name, "broker", "halt",
                         {"strategy": name, "flatten": body.flatten, "reason": body.reason},
                         SLOW_TIMEOUT)

    @api.post("/strategies/{name}/resume", summary="`ats-ctl resume NAME`")
    async def resume(name: str, request: Request, s: Changer) -> Any:
        return await act(request, s, "resume", name, "broker", "resume", {"strategy": name})

    @api.post("/halt", summary="`ats-ctl halt [--flatten]`: the whole account")
    async def halt_all(body: HaltBody, request: Request, s: Changer) -> Any:
        return await act(request, s, "halt", "account", "broker", "halt",
                         {"strategy": None, "flatten": body.flatten, "reason": body.reason},
                         SLOW_TIMEOUT)

    @api.post("/resume", summary="`ats-ctl resume`: the whole account")
    async def resume_all(request: Request, s: Changer) -> Any:
        return await act(request, s, "resume", "account", "broker", "resume",
                         {"strategy": None})

    @api.post("/strategies/{name}/params", summary="`ats-ctl set NAME key=value ...`")
    async def set_params(name: str, body: ParamsBody, request: Request, s: Changer) -> Any:
        return await act(request, s, "set_params", name, "manager", "set",
                         {"name": name, "changes": body.changes}, 15.0)

    @api.post("/strategies/{name}/weights", summary="`ats-ctl weights NAME ...`")
    async def set_weights(name: str, body: WeightsBody, request: Request, s: Changer) -> Any:
        params: dict[str, Any] = {"name": name, **{k: v for k, v in body.model_dump().items()
                                                   if v is not None and k != "force"}}
        if body.force:
            params["force"] = True
        return await act(request, s, "set_weights", name, "manager", "set_weights", params,
                         15.0)

    @api.post("/assign", summary="`ats-ctl assign SYMBOL QTY --to S [--from B] [--price P]`: "
              "move a position between books (a transfer, not a trade)")
    async def assign(body: AssignBody, request: Request, s: Changer) -> Any:
        return await act(request, s, "assign", body.to, "broker", "assign", {
            "transfer_id": uuid.uuid4().hex, "symbol": body.symbol, "quantity": body.quantity,
            "source": body.source, "dest": body.to, "price": body.price, "reason": body.reason,
            "by": f"web:{s.who}", "force": body.force, "con_id": body.con_id}, 15.0)

    @api.post("/limits", summary="`ats-ctl limits --strategy S | --account key=value ...`")
    async def set_limits(body: LimitsBody, request: Request, s: Changer) -> Any:
        if body.account == (body.strategy is not None):
            raise HTTPException(422, {"code": "BAD_PARAMS", "message": "say whose limits to "
                                      "change: a strategy, or account=true"})
        if body.strategy is not None:
            await ask("manager", "get", {"name": body.strategy})  # an unknown name: 404
        return await act(request, s, "set_limits", body.strategy or "account", "broker",
                         "set_limits", {"strategy": body.strategy, "limits": body.limits})

    return api

