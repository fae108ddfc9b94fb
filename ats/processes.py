"""Small shared pieces of every ats process: logging, stopping, one instance per ATS_HOME,
the hub entry point.

Every ats process stops the same way: SIGTERM, SIGINT, or its supervisord gone. supervisord
starts each program as its direct child; when supervisord dies (even by kill -9) the kernel gives
the child another parent, and a `ParentWatch` sees `os.getppid()` change within half a second
and takes the process's normal stop path. Nothing outlives its supervisord for long.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ats import config
from ats.runlock import LockHeld, RunLock
from bus import topics
from bus.publisher import Publisher

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

#: the pid of the process that started this one, read when this module is first imported, as
#: early in the process's life as can be: supervisord, for every program it runs
PARENT_AT_START = os.getppid()
#: how often a ParentWatch looks at its parent (a dead supervisord is noticed within this)
PARENT_POLL_SECONDS = 0.5
#: exit status of a second hub, manager or broker on an ATS_HOME (EX_TEMPFAIL)
EXIT_LOCKED = 75

log = logging.getLogger("ats.processes")


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


def single_instance(cfg: config.Config, prog: str) -> RunLock:
    """Take ``run/<name>.lock`` of this ATS_HOME (ats-broker -> broker.lock) for the process's
    lifetime, or exit at once with EXIT_LOCKED, naming the pid that holds it."""
    name = prog.removeprefix("ats-")
    try:
        return RunLock(cfg.run_dir / f"{name}.lock").acquire()
    except LockHeld as exc:
        holder = f"pid {exc.pid}" if exc.pid is not None else "another process"
        logging.getLogger(prog).error(
            "another %s (%s) already runs for %s (it holds %s): one system per ATS_HOME; "
            "`ats-ctl down` stops it", name, holder, cfg.home, exc.path)
        raise SystemExit(EXIT_LOCKED) from exc


def service_main(prog: str, description: str | None,
                 build: Callable[[config.Config], Any], argv: list[str] | None) -> None:
    """The entry point of a long-running ats process: --home, logging, config, the
    one-per-ATS_HOME lock, run()."""
    _, cfg = start_process(prog, description, argv)
    with single_instance(cfg, prog):
        asyncio.run(build(cfg).run())


def start_process(prog: str, description: str | None,
                  argv: list[str] | None) -> tuple[argparse.Namespace, config.Config]:
    """--home and --log-level parsed, logging set up, and the config loaded; a bad config is
    logged in one line and exits 2 (supervisord's log says why, no traceback)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    home_arg(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        cfg = config.load(args.home)
        secure_bus(cfg, prog.removeprefix("ats-"))
    except config.ConfigError as exc:
        logging.getLogger(prog).error("%s", exc)
        raise SystemExit(2) from exc
    return args, cfg


def secure_bus(cfg: config.Config, process: str) -> None:
    """Every bus socket of this process with CURVE when [bus] curve is on; missing keys are a
    ConfigError (one line)."""
    from ats import buskeys
    from bus.security import SecurityError

    try:
        buskeys.use(cfg, process)
    except SecurityError as exc:
        raise config.ConfigError(str(exc)) from exc


class ParentWatch:
    """Call ``on_gone`` once, from a daemon thread, when this process's parent is gone.

    The parent is the pid recorded at start (PARENT_AT_START). When it dies the kernel
    re-parents this process (to init or a subreaper), so ``getppid()`` no longer returns it.
    That is checked every ``interval`` seconds. PR_SET_PDEATHSIG is not used: it fires when
    the parent's *thread* that forked us exits, and it is Linux-only. The watch ends without a
    call once ``done()`` is true (the process is stopping anyway).
    """

    def __init__(self, on_gone: Callable[[], None], *, parent: int | None = None,
                 interval: float = PARENT_POLL_SECONDS,
                 done: Callable[[], bool] = lambda: False,
                 getppid: Callable[[], int] = os.getppid) -> None:
        self.parent = PARENT_AT_START if parent is None else parent
        self.on_gone, self.interval, self.done, self._getppid = on_gone, interval, done, getppid
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="parent-watch", daemon=True)

    def start(self) -> ParentWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the watch to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def parent_alive(self) -> bool:
        return self._getppid() == self.parent

    def _run(self) -> None:
        while not self._stopped.is_set() and not self.done():
            if not self.parent_alive():
                keep_output_without_supervisord()
                what = " (supervisord)" if os.environ.get("SUPERVISOR_ENABLED") else ""
                log.warning("parent process %d%s is gone: stopping as on SIGTERM",
                            self.parent, what)
                self.on_gone()
                return
            self._stopped.wait(self.interval)


def keep_output_without_supervisord() -> None:
    """supervisord read this program's stdout and stderr through a pipe and wrote its log;
    with supervisord gone every write would fail (EPIPE). Point both at that log file (its
    place in deploy/supervisord.conf and in the strategy sections), or at /dev/null."""
    program, home = os.environ.get("SUPERVISOR_PROCESS_NAME"), os.environ.get("ATS_HOME")
    if not program or not home:
        return  # not started by an ats supervisord: the output is someone else's
    path = Path(home) / "log" / f"{program}.log"
    target = str(path) if path.exists() else os.devnull
    with contextlib.suppress(OSError):
        fd = os.open(target, os.O_WRONLY | os.O_APPEND)
        for stream, out in ((sys.stdout, 1), (sys.stderr, 2)):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
            os.dup2(fd, out)
        os.close(fd)


def install_stop_handlers(stop: asyncio.Event) -> ParentWatch:
    """Set ``stop`` (the process's normal stop path) on SIGTERM, SIGINT, or when supervisord,
    this process's parent, is gone."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def on_gone() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(stop.set)

    return ParentWatch(on_gone, done=lambda: stop.is_set() or loop.is_closed()).start()


def sigterm_self() -> None:
    """The stop path of a process that handles SIGTERM itself (the hub)."""
    os.kill(os.getpid(), signal.SIGTERM)


def bus_main(argv: list[str] | None = None) -> None:
    """ats-bus: the XSUB/XPUB hub at the endpoints of ATS_HOME's config."""
    from bus import hub

    args, cfg = start_process("ats-bus", bus_main.__doc__, argv)
    eps = cfg.endpoints
    with single_instance(cfg, "ats-bus"):
        ParentWatch(sigterm_self).start()
        code = hub.main(["--frontend", eps.publish, "--backend", eps.subscribe,
                         "--log-level", args.log_level])
    sys.exit(code)
