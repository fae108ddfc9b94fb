"""Whole-system benchmark (issue 5): a private system under supervisord, measured against
baselines taken in the same run.

1. Order round trip: what a strategy host does (approve over the broker's ROUTER, placeOrder
   with the returned orderRef on its own clientId, then wait for Filled on its own connection,
   where the host books the fill) vs bare ib_async placing the same market order against the
   same simulator and waiting for Filled. The two alternate order by order. The broker's fill
   on ``fill.<strategy>.`` is awaited after the round trip, for figure 3.
2. Approvals per second: ``approve`` from several concurrent AsyncRequesters (one request in
   flight each, like that many strategy hosts) vs raw DEALERs against a ROUTER echo process.
   Also probes whether ONE AsyncRequester with several requests in flight gets every reply.
3. The broker's fill-to-bus lag: the bus fill's arrival after this process's own execDetails.
4. Memory: RSS/USS of one idle strategy host vs a bare python importing ib_async, pandas, zmq.
5. Crash recovery: kill -9 of the idle strategy host until the manager reports it RUNNING again
   with a new pid, vs the operator's cold `ats-ctl start` of the same host until RUNNING.

The system is always stopped and its temp home removed, even on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import psutil
import tomli_w
import zmq
import zmq.asyncio

from ats.orders.contract import ApprovalRequest
from bench.figures import Figure, record

STRATEGY = "benchrt"
IDLE = "idle"
BASELINE_CLIENT_ID = 950
ROUND_TRIPS = 150
WARMUP = 10
#: the broker paces approvals at 45/s per clientId (ats/broker/risk.py), so the round trips
#: are spaced to stay under it; both paths get the same spacing.
PACE_S = 0.025
APPROVALS = 1000
CLIENTS = 10  #: concurrent requesters in the approvals figure
STALL_TIMEOUT = 1.0
IDLE_WAIT_S = 10.0
RESTARTS = 3
SYMBOL = "SPY"
#: issue 15's goals, as ratios or amounts in the same run (the printed goals are issue 5's)
GOAL_ROUND_TRIP = 1.2  #: order round trip p50 <= 1.2x bare ib_async
GOAL_APPROVALS = 0.5  #: approvals >= 0.5 of a raw echo
GOAL_RSS_MB = 80.0  #: idle strategy process RSS
BARE_IMPORTS = "import time, ib_async, pandas, zmq; time.sleep(60)"

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


# -- the private system ----------------------------------------------------------------------


class System:
    """A temp ATS_HOME driven through ats-ctl."""

    def __init__(self) -> None:
        # ipc socket paths must stay under 107 bytes: a short temp dir.
        self.home = Path(tempfile.mkdtemp(prefix="ats-bench-", dir="/tmp"))
        self.env = {**os.environ, "ATS_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        data = {
            "venue": {"kind": "sim", "port": _free_port()},
            # max_msg_rate 0: the simulator's 50 msg/s client pacing is off, as the client
            # throttle is (both paths alike).
            "sim": {"admin_port": _free_port(), "speed": 1.0, "max_msg_rate": 0},
            "manager": {"seed_strategies": []},
            "web": {"port": _free_port()},
        }
        (self.home / "ats.toml").write_text(tomli_w.dumps(data))

    def ctl(self, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run([str(BIN / "ats-ctl"), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"ats-ctl {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    def ctl_json(self, *args: str) -> Any:
        return json.loads(self.ctl(*args, "--json"))

    def cfg(self) -> Any:
        from ats import config

        return config.load(self.home)

    def client_id(self, name: str) -> int:
        for entry in self.ctl_json("list"):
            if entry["name"] == name:
                return int(entry["client_id"])
        raise RuntimeError(f"{name} is not registered")

    def down(self) -> None:
        try:
            self.ctl("down", timeout=90)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"ats-ctl down failed: {exc}", file=sys.stderr)
        finally:
            pidfile = self.home / "run" / "supervisord.pid"
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)
            if os.environ.get("ATS_KEEP_HOME"):
                print(f"kept {self.home}")
            else:
                shutil.rmtree(self.home, ignore_errors=True)


def _wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# -- 4. memory -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    uss_mb: float


def _memory(pid: int) -> Memory:
    info = psutil.Process(pid).memory_full_info()
    return Memory(info.rss / 2**20, info.uss / 2**20)


def measure_memory(system: System) -> tuple[Memory, Memory]:
    """(idle strategy host, bare python with the same heavy imports), read together."""
    system.ctl("start", IDLE, timeout=60)
    bare = subprocess.Popen([sys.executable, "-c", BARE_IMPORTS])
    try:
        pid = _wait_for(lambda: _running_pid(system, IDLE), 30, f"{IDLE} RUNNING")
        time.sleep(IDLE_WAIT_S)
        # The host must still be the same, healthy process after the wait.
        if _running_pid(system, IDLE) != pid:
            raise RuntimeError(f"{IDLE} restarted during the wait; see {system.home}/log")
        return _memory(pid), _memory(bare.pid)
    finally:
        bare.kill()
        bare.wait()
        system.ctl("stop", IDLE, timeout=60)


def measure_restart(system: System) -> tuple[list[float], list[float]]:
    """(cold starts, kill -9 recoveries) of the idle host, in seconds until RUNNING."""
    cold: list[float] = []
    crash: list[float] = []
    for _ in range(RESTARTS):
        t0 = time.monotonic()
        system.ctl("start", IDLE, timeout=60)
        pid = _wait_for(lambda: _running_pid(system, IDLE), 60, f"{IDLE} RUNNING")
        cold.append(time.monotonic() - t0)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda old=pid: (p := _running_pid(system, IDLE)) and p != old, 60,
                  f"{IDLE} RUNNING again")
        crash.append(time.monotonic() - t0)
        system.ctl("stop", IDLE, timeout=60)  # the next start clears the crash record
    return cold, crash


def _running_pid(system: System, name: str) -> int | None:
    for s in system.ctl_json("status"):
        if s["name"] == name and s.get("state") == "RUNNING" and s.get("pid"):
            return int(s["pid"])
    return None


# -- 1 + 3. order round trips ----------------------------------------------------------------


@dataclass
class RoundTrips:
    baseline: list[float] = field(default_factory=list)  #: seconds, placeOrder -> Filled
    system: list[float] = field(default_factory=list)  #: approve -> Filled
    approve: list[float] = field(default_factory=list)  #: approve request alone
    bus_lag: list[float] = field(default_factory=list)  #: own execDetails -> bus fill


async def _connect(port: int, client_id: int) -> Any:
    from ib_async import IB

    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=15)
    ib.client.MaxRequests = 0
    return ib


async def _filled(trade: Any, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while trade.orderStatus.status != "Filled":
            await trade.statusEvent

    await asyncio.wait_for(wait(), timeout)


async def measure_round_trips(cfg: Any, client_id: int) -> RoundTrips:
    from ib_async import MarketOrder, Order, Stock

    from bus import topics
    from bus.client import AsyncRequester
    from bus.subscriber import Subscriber

    port = int(cfg.venue["port"])
    zctx = zmq.asyncio.Context()
    base_ib = await _connect(port, BASELINE_CLIENT_ID)
    ib = await _connect(port, client_id)
    broker = AsyncRequester(zctx, cfg.endpoints.broker, timeout=5.0)
    sub = Subscriber(zctx, cfg.endpoints.subscribe, prefixes=(topics.fill(STRATEGY),))
    bus_seen: dict[str, asyncio.Future[float]] = {}
    exec_seen: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    def bus_future(ref: str) -> asyncio.Future[float]:
        return bus_seen.setdefault(ref, loop.create_future())

    async def listen() -> None:
        async for _topic, env in sub:
            ref = env.body.get("order_ref")
            if env.source == "broker" and isinstance(ref, str):
                fut = bus_future(ref)
                if not fut.done():
                    fut.set_result(time.perf_counter())

    def on_exec(trade: Any, fill: Any) -> None:
        exec_seen.setdefault(fill.execution.orderRef or "", time.perf_counter())

    ib.execDetailsEvent += on_exec
    listener = asyncio.ensure_future(listen())
    try:
        await asyncio.sleep(0.5)  # the subscription reaches the hub (slow joiner)
        [contract] = await ib.qualifyContractsAsync(Stock(SYMBOL, "SMART", "USD"))
        out = RoundTrips()
        ref_price = 0.0

        async def baseline(side: str) -> float:
            nonlocal ref_price
            t0 = time.perf_counter()
            trade = base_ib.placeOrder(contract, MarketOrder(side, 1))
            await _filled(trade)
            dt = time.perf_counter() - t0
            ref_price = float(trade.orderStatus.avgFillPrice or ref_price)
            return dt

        async def via_system(side: str) -> tuple[float, float, float]:
            # The same fields ats/host/orders.py Orders.send sends.
            intent = ApprovalRequest(
                strategy=STRATEGY, con_id=contract.conId, symbol=contract.symbol,
                sec_type=contract.secType, side=side, quantity=1.0, order_type="MKT",
                client_id=client_id, ref_price=ref_price).encode()
            t0 = time.perf_counter()
            decision = await broker.request("approve", intent, timeout=5.0)
            t_approved = time.perf_counter()
            if not decision.get("approved"):
                raise RuntimeError(f"broker refused the bench order: {decision}")
            ref = str(decision["order_ref"])
            on_bus = bus_future(ref)
            order = Order(action=side, totalQuantity=1.0, orderType="MKT", tif="DAY",
                          orderRef=ref)
            trade = ib.placeOrder(contract, order)
            await _filled(trade)
            done = time.perf_counter()
            # the broker's way of the fill to its ledger and the bus: its own figure, outside
            # the round trip (the host books from its own connection)
            t_bus = await asyncio.wait_for(on_bus, 10.0)
            lag = t_bus - exec_seen.get(ref, t_bus)
            return done - t0, t_approved - t0, lag

        for i in range(WARMUP + ROUND_TRIPS):
            side = "BUY" if i % 2 == 0 else "SELL"  # positions stay flat
            b = await baseline(side)
            await asyncio.sleep(PACE_S)
            s, a, lag = await via_system(side)
            await asyncio.sleep(PACE_S)
            if i >= WARMUP:
                out.baseline.append(b)
                out.system.append(s)
                out.approve.append(a)
                out.bus_lag.append(lag)
        return out
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        sub.close()
        broker.close()
        ib.disconnect()
        base_ib.disconnect()
        zctx.term()


# -- 2. approvals per second -----------------------------------------------------------------


def echo_router(endpoint: str, ready: Any) -> None:
    """The baseline service: a raw ROUTER that echoes a msgpack reply per request."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(endpoint)
    ready.set()
    while True:
        frames = sock.recv_multipart()
        req = msgpack.unpackb(frames[-1])
        sock.send_multipart([*frames[:-1], msgpack.packb({"id": req["id"], "ok": True})])
        if req.get("method") == "quit":
            break
    sock.close(linger=0)
    ctx.term()


def _approval_intent(con_id: int, i: int) -> dict[str, Any]:
    # A distinct clientId per request: the broker's per-clientId pacing guard (45/s) would
    # otherwise refuse nearly all of them and this would time the refusal path.
    return ApprovalRequest(
        strategy=STRATEGY, con_id=con_id, symbol=SYMBOL, sec_type="STK",
        side="BUY" if i % 2 == 0 else "SELL", quantity=1.0, order_type="MKT",
        client_id=100_000 + i).encode()


async def _raw_concurrent(endpoint: str, n: int, clients: int) -> float:
    """Requests/s of ``clients`` raw DEALERs, each one request at a time, against the echo."""
    ctx = zmq.asyncio.Context()
    socks = [ctx.socket(zmq.DEALER) for _ in range(clients)]
    counter = iter(range(n))

    async def client(sock: zmq.asyncio.Socket) -> None:
        for i in counter:
            await sock.send(msgpack.packb({"id": i, "method": "approve",
                                           "params": _approval_intent(0, i)}))
            msgpack.unpackb(await sock.recv())

    try:
        for sock in socks:
            sock.connect(endpoint)
            await sock.send(msgpack.packb({"id": -1, "method": "ping"}))
            await sock.recv()  # connected
        t0 = time.perf_counter()
        await asyncio.gather(*(client(sock) for sock in socks))
        rate = n / (time.perf_counter() - t0)
        await socks[0].send(msgpack.packb({"id": -2, "method": "quit"}))
        await socks[0].recv()
        return rate
    finally:
        for sock in socks:
            sock.close(linger=0)
        ctx.term()


async def _approvals_concurrent(cfg: Any, con_id: int, n: int, clients: int) -> float:
    """Approvals/s of ``clients`` AsyncRequesters (like that many strategy hosts), each one
    request at a time, against the broker."""
    from bus.client import AsyncRequester

    ctx = zmq.asyncio.Context()
    reqs = [AsyncRequester(ctx, cfg.endpoints.broker, timeout=10.0) for _ in range(clients)]
    counter = iter(range(n))
    refused: list[dict[str, Any]] = []

    async def client(req: AsyncRequester) -> None:
        for i in counter:
            decision = await req.request("approve", _approval_intent(con_id, i))
            if not decision.get("approved"):
                refused.append(decision)

    try:
        for req in reqs:
            await req.request("limits", {})  # connected
        t0 = time.perf_counter()
        await asyncio.gather(*(client(req) for req in reqs))
        rate = n / (time.perf_counter() - t0)
        if refused:
            raise RuntimeError(f"{len(refused)} approvals refused, e.g. {refused[0]}")
        return rate
    finally:
        for req in reqs:
            req.close()
        ctx.term()


async def _one_requester_concurrent(cfg: Any, n: int, window: int) -> str:
    """Whether ONE AsyncRequester with ``window`` requests in flight gets every reply."""
    from bus.client import AsyncRequester
    from bus.errors import RequestError

    ctx = zmq.asyncio.Context()
    req = AsyncRequester(ctx, cfg.endpoints.broker, timeout=STALL_TIMEOUT)
    sem = asyncio.Semaphore(window)
    answered = 0

    async def one() -> None:
        nonlocal answered
        async with sem:
            await req.request("limits", {})
            answered += 1

    try:
        await req.request("limits", {})
        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        failed = sum(isinstance(r, RequestError) for r in results)
        return "ok" if not failed else f"STALLED: {failed}/{n} timed out ({answered} answered)"
    finally:
        req.close()
        ctx.term()


def measure_approvals(cfg: Any, con_id: int) -> tuple[float, float, str]:
    """(raw echo requests/s, broker approvals/s, one-requester concurrency verdict)."""
    run_dir = Path(tempfile.mkdtemp(prefix="bench-echo-", dir="/tmp"))
    endpoint = f"ipc://{run_dir}/echo.sock"
    spawn = mp.get_context("spawn")
    ready = spawn.Event()
    echo = spawn.Process(target=echo_router, args=(endpoint, ready), daemon=True)
    echo.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("echo router did not start")
        raw = asyncio.run(_raw_concurrent(endpoint, APPROVALS, CLIENTS))
        echo.join(10)
        approvals = asyncio.run(_approvals_concurrent(cfg, con_id, APPROVALS, CLIENTS))
        verdict = asyncio.run(_one_requester_concurrent(cfg, 10 * CLIENTS, CLIENTS))
        return raw, approvals, verdict
    finally:
        if echo.is_alive():
            echo.terminate()
            echo.join(5)
        shutil.rmtree(run_dir, ignore_errors=True)


# -- report ----------------------------------------------------------------------------------


def _row(name: str, base: float, system: float, unit: str, note: str = "") -> str:
    ratio = system / base if base else float("nan")
    return f"{name:<34}{base:>12,.2f}{system:>12,.2f}{ratio:>8.2f}  {unit:<6}{note}"


def report(rt: RoundTrips, raw_rate: float, approvals: float, verdict: str, idle: Memory,
           bare: Memory, cold: list[float], crash: list[float]) -> list[Figure]:
    ms = 1e3
    print(f"system benchmark (sim speed 1, throttles off; {ROUND_TRIPS} round trips each, "
          f"alternating, {PACE_S * 1e3:.0f} ms apart; {APPROVALS} approvals from {CLIENTS} "
          "concurrent requesters)")
    print(f"{'figure':<34}{'baseline':>12}{'system':>12}{'ratio':>8}  {'unit':<6}note")
    print(_row("order round trip p50", _pct(rt.baseline, 0.5) * ms, _pct(rt.system, 0.5) * ms,
               "ms", f"goal ratio <= {GOAL_ROUND_TRIP:.2f}"))
    print(_row("order round trip p99", _pct(rt.baseline, 0.99) * ms,
               _pct(rt.system, 0.99) * ms, "ms"))
    print(_row("approvals per second", raw_rate, approvals, "/s", f"goal ratio >= "
               f"{GOAL_APPROVALS:.2f}; baseline: raw DEALER/ROUTER echo"))
    print(f"  one AsyncRequester, {CLIENTS} requests in flight: {verdict}")
    print(_row("host RSS (idle strategy)", bare.rss_mb, idle.rss_mb, "MB",
               f"goal <= {GOAL_RSS_MB:.0f} MB; baseline: bare import"))
    print(_row("host USS (idle strategy)", bare.uss_mb, idle.uss_mb, "MB"))
    print(_row("kill -9 -> RUNNING again (median)", _pct(cold, 0.5), _pct(crash, 0.5), "s",
               f"baseline: cold `ats-ctl start`; {RESTARTS} each"))
    print("system-path parts (no baseline):")
    print(f"  approve request     p50 {_pct(rt.approve, 0.5) * ms:7.2f} ms   "
          f"p99 {_pct(rt.approve, 0.99) * ms:7.2f} ms")
    print(f"  broker fill -> bus  p50 {_pct(rt.bus_lag, 0.5) * ms:7.2f} ms   "
          f"p99 {_pct(rt.bus_lag, 0.99) * ms:7.2f} ms   "
          "(bus fill arrival after own execDetails)")
    out = as_figures(rt, raw_rate, approvals, idle, bare, cold, crash)
    print("goals (issue 15): " + "; ".join(
        f"{f.name} {f.goal} {'MET' if f.met else 'NOT MET'}" for f in out if f.met is not None))
    return out


def as_figures(rt: RoundTrips, raw_rate: float, approvals: float, idle: Memory, bare: Memory,
               cold: list[float], crash: list[float]) -> list[Figure]:
    """The printed figures, each with issue 15's goal where it states one."""
    ms = 1e3
    rt_p50, base_p50 = _pct(rt.system, 0.5) * ms, _pct(rt.baseline, 0.5) * ms
    return [
        Figure("order round trip p50", rt_p50, "ms", base_p50,
               f"ratio <= {GOAL_ROUND_TRIP:.2f} (issue 15)", rt_p50 <= GOAL_ROUND_TRIP * base_p50),
        Figure("order round trip p99", _pct(rt.system, 0.99) * ms, "ms",
               _pct(rt.baseline, 0.99) * ms),
        Figure("approvals per second", approvals, "/s", raw_rate,
               f"ratio >= {GOAL_APPROVALS:.2f} (issue 15)", approvals >= GOAL_APPROVALS * raw_rate),
        Figure("host RSS (idle strategy)", idle.rss_mb, "MB", bare.rss_mb,
               f"<= {GOAL_RSS_MB:.0f} MB (issue 15)", idle.rss_mb <= GOAL_RSS_MB),
        Figure("host USS (idle strategy)", idle.uss_mb, "MB", bare.uss_mb),
        Figure("kill -9 -> RUNNING again (median)", _pct(crash, 0.5), "s", _pct(cold, 0.5)),
        Figure("approve request p50", _pct(rt.approve, 0.5) * ms, "ms"),
        Figure("approve request p99", _pct(rt.approve, 0.99) * ms, "ms"),
        Figure("broker fill -> bus p50", _pct(rt.bus_lag, 0.5) * ms, "ms"),
        Figure("broker fill -> bus p99", _pct(rt.bus_lag, 0.99) * ms, "ms"),
    ]


def _phase(t_start: float, what: str) -> None:
    print(f"[{time.monotonic() - t_start:5.1f}s] {what}", file=sys.stderr, flush=True)


def main() -> None:
    t_start = time.monotonic()
    system = System()
    try:
        _phase(t_start, f"ats-ctl up (home {system.home})")
        system.ctl("up", timeout=180)
        for name in (STRATEGY, IDLE):
            system.ctl("add", "strategies.example", "--name", name, timeout=60)
        client_id = system.client_id(STRATEGY)
        system.ctl("limits", "--account", "max_orders_per_minute=100000")
        system.ctl("limits", "--strategy", STRATEGY, "max_orders_per_minute=100000",
                   "max_position=none", "max_gross_exposure=none")
        cfg = system.cfg()
        _wait_for(lambda: _broker_account(cfg), 30, "the broker's account (venue connected)")
        _phase(t_start, "memory: idle strategy host vs bare imports")
        idle, bare = measure_memory(system)
        _phase(t_start, "crash recovery: kill -9 vs cold start")
        cold, crash = measure_restart(system)
        _phase(t_start, "order round trips")
        rt = asyncio.run(measure_round_trips(cfg, client_id))
        _phase(t_start, "approvals")
        raw_rate, approvals, verdict = measure_approvals(cfg, _spy_con_id(cfg))
        record("system", report(rt, raw_rate, approvals, verdict, idle, bare, cold, crash))
        _phase(t_start, "ats-ctl down")
    finally:
        system.down()
        print(f"(bench_system took {time.monotonic() - t_start:.1f}s including up/down)")


def _broker_account(cfg: Any) -> Any:
    from bus.client import Requester

    with zmq.Context() as ctx, Requester(ctx, cfg.endpoints.broker, timeout=2.0) as req:
        return req.request("account", {})


def _spy_con_id(cfg: Any) -> int:
    async def qualify() -> int:
        from ib_async import Stock

        ib = await _connect(int(cfg.venue["port"]), BASELINE_CLIENT_ID + 1)
        try:
            [contract] = await ib.qualifyContractsAsync(Stock(SYMBOL, "SMART", "USD"))
            return int(contract.conId)
        finally:
            ib.disconnect()

    return asyncio.run(qualify())


if __name__ == "__main__":
    main()
