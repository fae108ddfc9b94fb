"""ats-web: the web console process, under supervisord like the others.

It serves on [web] host:port (loopback unless TLS is configured; the config refuses anything
else), beats on hb.web, and stops on SIGTERM, SIGINT or when its supervisord is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
import zmq
import zmq.asyncio

from ats import config as config_mod
from ats.processes import BusLogHandler, install_stop_handlers, start_process
from ats.report.benchmark import stored_reader
from ats.scheduler.listing import Schedule
from ats.web import logintoken
from ats.web.app import create_app
from ats.web.audit import AuditLog
from ats.web.auth import SESSION_COOKIE, Sessions
from ats.web.backend import BusBackend
from ats.web.console import Console
from ats.web.live import LiveBus
from ats.web.metrics import Metrics
from bus.endpoints import is_loopback
from bus.heartbeat import Heartbeater
from bus.publisher import Publisher

log = logging.getLogger("ats.web")
PROCESS = "web"
#: the Host names a loopback console answers
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
#: seconds open event streams get to end when the process stops
GRACEFUL_SECONDS = 3


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # ats's own stop path (install_stop_handlers) owns SIGTERM and SIGINT.
        yield


async def serve(cfg: config_mod.Config) -> None:
    web = cfg.section("web")
    stop = asyncio.Event()
    install_stop_handlers(stop)
    ctx = zmq.asyncio.Context()
    sync_ctx = zmq.Context()
    publisher = Publisher(sync_ctx, cfg.endpoints.publish, PROCESS)
    logging.getLogger().addHandler(BusLogHandler(publisher, PROCESS))
    backend = BusBackend(ctx, cfg.endpoints)
    live = LiveBus(ctx, cfg.endpoints, backend)
    metrics = Metrics(lambda: live.status["rows"])
    tls = bool(web["tls_cert"] and web["tls_key"])
    console = Console(backend=backend, live=live,
                      sessions=Sessions(logintoken.ensure(cfg.web_token_file)),
                      audit=AuditLog(cfg.web_audit_file), log_dir=cfg.log_dir, secure=tls,
                      cookie=f"{SESSION_COOKIE}_{web['port']}",
                      hosts=(*LOOPBACK_NAMES, str(web["host"])) if is_loopback(str(web["host"]))
                      else None, metrics=metrics,
                      closes=stored_reader(cfg.arctic_uri, str(cfg.section("data")["library"])),
                      arctic_uri=cfg.arctic_uri,
                      schedule=Schedule.of(cfg.state_dir, cfg.section("scheduler")))
    server = _Server(uvicorn.Config(
        create_app(console), host=str(web["host"]), port=int(web["port"]),
        log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        ssl_certfile=str(web["tls_cert"]) or None, ssl_keyfile=str(web["tls_key"]) or None))
    tasks = [asyncio.create_task(live.run(), name="live"),
             asyncio.create_task(metrics.run(ctx, cfg.endpoints.subscribe), name="metrics"),
             asyncio.create_task(Heartbeater(publisher, PROCESS).run(), name="heartbeat")]
    serving = asyncio.create_task(server.serve(), name="http")
    log.info("web console at %s", cfg.web_url)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    live.broadcast.end()  # open event streams end, so the server can stop
    server.should_exit = True
    for t in tasks:
        t.cancel()
    await asyncio.gather(serving, *tasks, return_exceptions=True)
    stopping.cancel()
    backend.close()
    publisher.close()
    if not server.started:
        raise SystemExit(f"cannot serve on {web['host']}:{web['port']} (in use? see "
                         f"[web] port in {cfg.path})")
    log.info("web console stopped")


def main(argv: list[str] | None = None) -> None:
    _, cfg = start_process("ats-web", __doc__, argv)
    asyncio.run(serve(cfg))
