"""The ASGI application: the pages, the event stream, the JSON API and the static assets.

Every page is the same small HTML shell (static/app.html); static/app.js draws the page the
path names from the event stream (GET /events, Server-Sent Events) and the JSON API. Nothing is
loaded from another site: the Content-Security-Policy allows this origin only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ats.web import api, databrowse, scheduleroutes
from ats.web.console import Console, dumps
from ats.web.metrics import CONTENT_TYPE, Metrics

STATIC = Path(__file__).resolve().parent / "static"
#: the pages, each drawn by app.js from its path
PAGES = ("/", "/orders", "/positions", "/risk", "/performance", "/data", "/schedule", "/login")
#: seconds between comments on an idle event stream (proxies and browsers keep it open)
KEEPALIVE_SECONDS = 15.0
#: milliseconds a browser waits before it reconnects a dropped event stream
RETRY_MS = 1000

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {dumps(data)}\n\n"


def event_stream(console: Console) -> Callable[[Request], Awaitable[Response]]:
    async def events(request: Request) -> Response:
        live = console.live
        if live is None:
            return JSONResponse({"error": {"code": "UNAVAILABLE", "message": "no live bus"}},
                                status_code=503)
        queue = live.broadcast.open()  # before the opening state: nothing falls between

        async def body() -> AsyncIterator[str]:
            try:
                yield f"retry: {RETRY_MS}\n\n"
                for kind, data in live.opening():
                    yield sse(kind, data)
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if item is None:
                        return
                    if item[0] == "resync":
                        for kind, data in live.opening():
                            yield sse(kind, data)
                        continue
                    yield sse(*item)
            finally:
                live.broadcast.close(queue)

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    return events


def metrics_route(metrics: Metrics) -> Callable[[], Response]:
    def scrape() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE,
                        headers={"Cache-Control": "no-store"})
    return scrape


def create_app(console: Console) -> FastAPI:
    # No /docs: Swagger UI loads its assets from a CDN. /openapi.json documents the API.
    app = FastAPI(title="ats web console", docs_url=None, redoc_url=None)
    app.state.console = console

    app.middleware("http")(api.guard(console))

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if console.secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, dict) else \
            {"code": f"HTTP_{exc.status_code}", "message": str(exc.detail)}
        return JSONResponse({"error": detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                          for e in exc.errors())
        return JSONResponse({"error": {"code": "BAD_REQUEST", "message": where}},
                            status_code=422)

    if console.hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(console.hosts))
    app.include_router(api.router(console))
    app.include_router(databrowse.router(console.arctic_uri))
    app.include_router(scheduleroutes.router(console.schedule, console.audit))
    app.add_api_route("/events", event_stream(console), methods=["GET"],
                      include_in_schema=False)
    if console.metrics is not None:  # Prometheus text format; read-only, open like every GET
        app.add_api_route("/metrics", metrics_route(console.metrics), methods=["GET"],
                          include_in_schema=False)

    def page() -> FileResponse:
        return FileResponse(STATIC / "app.html", headers={"Cache-Control": "no-store"})

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/strategy/{name}", page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
