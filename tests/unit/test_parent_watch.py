"""Every ats process stops when its supervisord is gone: the parent watch (ats/processes.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from pinned import THREAD_TIMERS

from ats.processes import ParentWatch

pytestmark = THREAD_TIMERS  # the watch polls with a timed Event.wait

#: a parent that starts CHILD, prints the child's pid, then waits to be killed
MIDDLE = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(child.pid, flush=True)
sys.stdin.read()
"""

#: an asyncio process with the shared stop handlers: records how it stopped, then exits 0
CHILD = """
import asyncio, sys
from pathlib import Path
from ats.processes import install_stop_handlers

async def main():
    stop = asyncio.Event()
    install_stop_handlers(stop)
    Path(sys.argv[1] + ".tmp").write_text("running")
    Path(sys.argv[1] + ".tmp").replace(sys.argv[1])
    await stop.wait()
    Path(sys.argv[1]).write_text("stopped cleanly")

asyncio.run(main())
"""


def wait_for_text(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == text:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never said {text!r}")


def ppids(*values: int) -> Iterator[int]:
    yield from values
    while True:
        yield values[-1]


def test_the_watch_calls_on_gone_once_when_the_parent_changes() -> None:
    calls: list[int] = []
    seen = ppids(100, 100, 1)
    watch = ParentWatch(lambda: calls.append(1), parent=100, interval=0.0,
                        getppid=lambda: next(seen)).start()
    assert watch.join(30)
    assert calls == [1]


def test_the_watch_ends_without_a_call_once_the_process_is_stopping() -> None:
    calls: list[int] = []
    stopping = threading.Event()
    watch = ParentWatch(lambda: calls.append(1), parent=os.getppid(), interval=0.01,
                        done=stopping.is_set).start()
    stopping.set()
    assert watch.join(30)
    assert calls == []


def test_an_orphaned_process_takes_its_normal_stop_path(tmp_path: Path) -> None:
    marker = tmp_path / "child.state"
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, CHILD, str(marker)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child: psutil.Process | None = None
    try:
        assert middle.stdout is not None
        child = psutil.Process(int(middle.stdout.readline()))
        # the child writes "running" once its stop handlers are installed
        wait_for_text(marker, "running")
        middle.send_signal(signal.SIGKILL)  # the child's parent dies without a word
        middle.wait(30)
        child.wait(60)  # not our child: its exit status is its parent's (init's) to read
        assert marker.read_text() == "stopped cleanly"
    finally:
        middle.kill()
        middle.wait(30)
        if child is not None and child.is_running():
            child.kill()
