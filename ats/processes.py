"""Small shared pieces of every ats process: logging, signals, the hub entry point."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ats import config
from bus import topics
from bus.publisher import Publisher

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=LOG_FORMAT,
                        stream=sys.stdout, force=True)
    # The IB clients log every message at INFO; keep their warnings and errors only.
    for name in ("ib_async", "ib_insync"):
        logging.getLogger(name).setLevel(logging.WARNING)


class BusLogHandler(logging.Handler):
    """Publish WARNING+ log records on log.<process> so `ats-ctl tail` shows them."""

    def __init__(self, publisher: Publisher, process: str) -> None:
        super().__init__(logging.WARNING)
        self.publisher, self.topic = publisher, topics.log(process)

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # logging must never raise into the caller
            self.publisher.publish(self.topic, "log", {
                "level": record.levelname, "logger": record.name, "msg": record.getMessage()})


def home_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", type=Path, default=None,
                        help="ATS_HOME folder (default: $ATS_HOME or ./var)")
    parser.add_argument("--log-level", default="INFO")


def service_main(prog: str, description: str | None,
                 build: Callable[[config.Config], Any], argv: list[str] | None) -> None:
    """The entry point of a long-running ats process: --home, logging, config, run()."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    home_arg(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        cfg = config.load(args.home)
    except config.ConfigError as exc:
        logging.getLogger(prog).error("%s", exc)
        raise SystemExit(2) from exc
    asyncio.run(build(cfg).run())


def install_stop_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def bus_main(argv: list[str] | None = None) -> None:
    """ats-bus: the XSUB/XPUB hub at the endpoints of ATS_HOME's config."""
    from bus import hub

    parser = argparse.ArgumentParser(prog="ats-bus", description=bus_main.__doc__)
    home_arg(parser)
    args = parser.parse_args(argv)
    eps = config.load(args.home).endpoints
    sys.exit(hub.main(["--frontend", eps.publish, "--backend", eps.subscribe,
                       "--log-level", args.log_level]))
