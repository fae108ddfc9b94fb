"""The real ats-manager control service for CLI tests, without supervisord.

`ManagerService` runs `Manager.service` (the ROUTER ats-ctl talks to) on its own thread and
loop, on the ipc endpoint of a temporary ATS_HOME with a real registry in ArcticDB (LMDB).
supervisord's answers come from `StubSupervisor`, or from the real client against a socket that
is not there.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from click.testing import CliRunner, Result

from ats import config
from ats.cli.main import cli
from ats.manager import supervisor as sv
from ats.manager.main import Manager

#: name -> spec, or (spec, min, target, max weight): registered before the manager serves
Book = Mapping[str, str | tuple[str, float, float, float]]


class StubSupervisor:
    """supervisord's answers: each registered program in the state given (STOPPED if none),
    with an uptime of 0 whatever the wall clock says; start/stop/reload recorded, not run."""

    def __init__(self, states: dict[str, str] | None = None) -> None:
        self.states = dict(states or {})
        self.names: list[str] = list(self.states)
        self.calls: list[tuple[str, ...]] = []

    def all_processes(self) -> list[sv.ProcessInfo]:
        infos = []
        for name in self.names:
            state = self.states.get(name, "STOPPED")
            infos.append(sv.ProcessInfo(name=sv.program_name(name), state=state,
                                        pid=4242 if state == "RUNNING" else 0, start=0.0,
                                        now=0.0, exitstatus=0, description=""))
        return infos

    def start(self, program: str, wait: bool = True) -> None:
        self.calls.append(("start", program))

    def stop(self, program: str, wait: bool = True) -> None:
        self.calls.append(("stop", program))

    def load_programs(self) -> tuple[list[str], list[str]]:
        self.calls.append(("load_programs",))
        return [], []


def new_manager(cfg: config.Config, book: Book, stub: StubSupervisor | None = None) -> Manager:
    m = Manager(cfg)
    for name, entry in book.items():
        spec, lo, target, hi = (entry, 0.0, 0.0, 1.0) if isinstance(entry, str) else entry
        m.registry.add(name, spec, min_weight=lo, target_weight=target, max_weight=hi)
    if stub is not None:
        stub.names = list(dict.fromkeys([*stub.names, *(e.name for e in m.registry)]))
        m.supervisor = stub  # type: ignore[assignment]
    return m


def close(m: Manager) -> None:
    m.subscriber.close()
    m.publisher.close()
    m._sv_pool.shutdown(wait=False)
    m.ctx.destroy(linger=0)
    m.sync_ctx.destroy(linger=0)


class ManagerService:
    """`with ManagerService(cfg, book, stub) as manager:` the manager serves until the end."""

    def __init__(self, cfg: config.Config, book: Book | None = None,
                 stub: StubSupervisor | None = None) -> None:
        self.cfg, self.book, self.stub = cfg, dict(book or {}), stub
        self.manager: Manager | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="manager", daemon=True)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            m = self.manager = new_manager(self.cfg, self.book, self.stub)
            m.service.bind()
            self._loop = loop
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_until_complete(m.service.run())
        finally:
            close(m)
            loop.close()

    def __enter__(self) -> Manager:
        self._thread.start()
        assert self._ready.wait(30), "the manager service did not start"
        if self._error is not None:
            raise self._error
        assert self.manager is not None
        return self.manager

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self.manager is not None:
            self._loop.call_soon_threadsafe(self.manager.service.stop)
        self._thread.join(30)


@contextmanager
def short_home(toml: str = "") -> Iterator[Path]:
    """A fresh ATS_HOME with every default (or `toml`), in a short path: ipc paths are limited
    to 107 characters, more than pytest's tmp_path can promise."""
    home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    try:
        config.init_home(home)
        if toml:
            (home / config.CONFIG_FILE).write_text(toml)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def ctl(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"ATS_HOME": str(home)})


def one_error_line(result: Result, exit_code: int | None = None) -> str:
    """The single `error: ...` line the CLI printed on stderr (and its exit code, if given)."""
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"want one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
