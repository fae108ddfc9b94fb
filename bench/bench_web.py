"""Web console benchmark (issue 11): a private system with the 11 seed strategies, one headless
Chromium, each figure against a baseline measured in the same run.

1. Bus event -> DOM: this process publishes alerts on ``alert.bench.`` (each with a
   ``bench_id``); the overview records when each one's render reached the DOM
   (``window.atsRendered``, epoch ms, the same clock as this process's ``time.time()``).
   Baseline: a plain bus subscriber in this process receiving the same alerts.
2. Time to a first full overview: from navigation start until the page shows all 11 strategies
   with their states and the 7 processes (in-browser ``performance.now()``). Baseline: the same
   browser loading the raw ``/api/status`` JSON (navigation start to response end).

Skips (exit 0, saying why) when there is no Chromium or selenium. The system is always stopped
and its temp home removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import tomli_w
import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "system"))

from browserkit import chrome, missing  # noqa: E402

from bench.figures import Figure, record  # noqa: E402

BIN = Path(sys.executable).parent
STRATEGIES = 11  #: the default seed: the ten shipped strategies and `example`
#: bus, manager, broker, gateway-sim, web, alerts, scheduler (tests/system/test_system_web.py)
PROCESSES = 7
EVENTS = 300
EVENT_GAP_S = 0.02
LOADS = 10
FULL_OVERVIEW_JS = f"""
const done = arguments[arguments.length - 1];
function check() {{
  const rows = document.querySelectorAll('#strategies tbody tr[data-state]');
  const full = rows.length === {STRATEGIES} && [...rows].every(r => r.dataset.state) &&
    document.querySelectorAll('#processes tbody tr[data-state]').length === {PROCESSES};
  if (full) done(performance.now()); else requestAnimationFrame(check);
}}
check();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def _ctl(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    proc = subprocess.run([str(BIN / "ats-ctl"), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"ats-ctl {' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def make_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="ats-bw-", dir="/tmp"))
    data = {"venue": {"kind": "sim", "port": _free_port()},
            "sim": {"admin_port": _free_port()}, "web": {"port": _free_port()}}
    (home / "ats.toml").write_text(tomli_w.dumps(data))
    return home


def down(home: Path, env: dict[str, str]) -> None:
    try:
        _ctl(env, "down", timeout=90)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"ats-ctl down failed: {exc}", file=sys.stderr)
    finally:
        pidfile = home / "run" / "supervisord.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


def measure_loads(driver: Any, url: str) -> tuple[list[float], list[float]]:
    """(raw /api/status loads, full overviews), ms from navigation start."""
    raw, full = [], []
    for _ in range(LOADS):
        driver.get(url + "api/status")
        raw.append(float(driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].responseEnd")))
        driver.get(url)
        full.append(float(driver.execute_async_script(FULL_OVERVIEW_JS)))
    return raw, full


def measure_events(driver: Any, endpoints: Any) -> tuple[list[float], list[float]]:
    """(raw subscriber latencies, bus -> DOM latencies), ms."""
    from bus import topics
    from bus.publisher import Publisher
    from bus.subscriber import SyncSubscriber

    ctx = zmq.Context()
    topic = topics.alert("bench")
    publisher = Publisher(ctx, endpoints.publish, "bench")
    received: dict[int, float] = {}
    sub = SyncSubscriber(ctx, endpoints.subscribe, [topic])
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            msg = sub.recv(timeout=0.2)
            if msg is not None:
                received[int(msg[1].body["bench_id"])] = time.time()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        # Warm up until the page shows one: every connection is made before timing starts.
        deadline = time.monotonic() + 30
        while not driver.execute_script("return window.atsRendered.length"):
            if time.monotonic() > deadline:
                raise RuntimeError("the page never showed a bench alert")
            publisher.publish(topic, "alert", {"level": "INFO", "message": "warm-up",
                                               "bench_id": -1})
            time.sleep(0.2)
        driver.execute_script("window.atsRendered = [];")
        sent: dict[int, float] = {}
        for i in range(EVENTS):
            sent[i] = time.time()
            publisher.publish(topic, "alert", {"level": "INFO", "message": f"bench {i}",
                                               "bench_id": i})
            time.sleep(EVENT_GAP_S)
        time.sleep(1.0)
        rendered = {int(i): t / 1000 for i, t in driver.execute_script(
            "return window.atsRendered") if int(i) >= 0}
    finally:
        stop.set()
        listener.join(2)
        sub.close()
        publisher.close()
        ctx.term()
    lost = EVENTS - len(rendered)
    if lost:
        print(f"  {lost} of {EVENTS} alerts never reached the DOM", file=sys.stderr)
    raw = [(received[i] - sent[i]) * 1e3 for i in sent if i in received]
    dom = [(rendered[i] - sent[i]) * 1e3 for i in sent if i in rendered]
    return raw, dom


def _row(name: str, base: float, value: float, unit: str, note: str = "") -> str:
    ratio = value / base if base else float("nan")
    return f"{name:<34}{base:>12,.2f}{value:>12,.2f}{ratio:>8.2f}  {unit:<6}{note}"


def main() -> None:
    reason = missing()
    if reason:
        print(f"bench_web SKIPPED: {reason}")
        return
    t0 = time.monotonic()
    home = make_home()
    env = {**os.environ, "ATS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    driver = None
    try:
        print(f"[{time.monotonic() - t0:5.1f}s] ats-ctl up (home {home})", file=sys.stderr)
        _ctl(env, "up", timeout=240)
        from ats import config

        cfg = config.load(home)
        url = cfg.web_url
        driver = chrome()
        print(f"[{time.monotonic() - t0:5.1f}s] overview loads", file=sys.stderr)
        raw_load, full = measure_loads(driver, url)
        print(f"[{time.monotonic() - t0:5.1f}s] bus events -> DOM", file=sys.stderr)
        raw_ev, dom = measure_events(driver, cfg.endpoints)
        print(f"web console benchmark ({STRATEGIES} strategies; {EVENTS} alerts "
              f"{EVENT_GAP_S * 1e3:.0f} ms apart; {LOADS} page loads)")
        print(f"{'figure':<34}{'baseline':>12}{'web':>12}{'ratio':>8}  {'unit':<6}note")
        print(_row("bus event -> DOM p50", _pct(raw_ev, 0.5), _pct(dom, 0.5), "ms",
                   "baseline: a bus subscriber's receive"))
        print(_row("bus event -> DOM p99", _pct(raw_ev, 0.99), _pct(dom, 0.99), "ms"))
        print(_row("first full overview (median)", _pct(raw_load, 0.5), _pct(full, 0.5), "ms",
                   "baseline: the browser loading /api/status"))
        print(_row("first full overview (max)", max(raw_load), max(full), "ms"))
        record("web", [  # issue 11's figures; issues 15 and 16 state no goal for them
            Figure("bus event -> DOM p50", _pct(dom, 0.5), "ms", _pct(raw_ev, 0.5)),
            Figure("bus event -> DOM p99", _pct(dom, 0.99), "ms", _pct(raw_ev, 0.99)),
            Figure("first full overview (median)", _pct(full, 0.5), "ms", _pct(raw_load, 0.5)),
            Figure("first full overview (max)", max(full), "ms", max(raw_load)),
        ])
    finally:
        if driver is not None:
            driver.quit()
        down(home, env)
        print(f"(bench_web took {time.monotonic() - t0:.1f}s including up/down)")


if __name__ == "__main__":
    main()
