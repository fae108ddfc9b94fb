"""Scale benchmark (issue 16): N idle strategy processes (default 30) on this box, under the
real supervisord of a private system, with baselines measured in the same run.

1. Memory of each idle strategy host (bench/idle_strategy.py: one 1-minute bar subscription,
   no orders): RSS, USS and PSS (psutil), per process and in total, against a bare python
   that imports ib_async and connects to the same simulator, read after the same settle
   time. Goal: <= 80 MB RSS per idle strategy.
2. Bus latency at 10k events/s with the N strategy hosts running and subscribed to the hub:
   a bus Publisher -> the system's hub -> a bus Subscriber (each in its own process), against
   raw pyzmq PUB -> SUB at the same rate, same payload, same run (the N hosts running too),
   in three alternating runs of 5 s each, pooled.
   The events go on a topic of their own (``bench.scale.``), which only the measuring
   subscriber takes: the hosts' subscriptions are their own fills, params and risk, so the
   hub filters every event against theirs, and their loops, heartbeats and bars share the
   two cores with it. p50/p99/max one-way latency, the rate reached and lost events.

One Gateway takes 32 API clients, and the registry counts the system's own clientIds (broker,
data fetch, scheduler, doctor) among them, so the strategies that do not fit on the first venue
are registered on a second simulated venue ([[venues]] "second", its own simulator and broker
desk), as a user past one Gateway would. `python -m bench.bench_scale N` asks for N. The system
is always stopped and its temp home removed, even on failure.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgpack
import psutil
import tomli_w
import zmq

from ats import apiclients
from bench import figures
from bench.bench_bus import _payload, raw_pub
from bench.bench_system import System, _free_port, _wait_for
from bench.figures import Figure

STRATEGIES = 30
SECOND = "second"  #: the venue of the strategies past the first Gateway's 32 clients
IDLE_SPEC = str(Path(__file__).with_name("idle_strategy.py"))
#: a regular session (Wednesday 2026-11-18, 14:35 UTC), so the hosts receive bars whatever
#: the day the bench runs on
SIM_START = "2026-11-18T14:35:00+00:00"
#: seconds after the last host is RUNNING (or after the baseline connects) before memory is read
SETTLE_S = 15.0
UP_TIMEOUT_S = 240.0
BASELINE_CLIENT_ID = 960
RATE = 10_000  #: events per second
SECONDS = 5.0  #: per run
ROUNDS = 3  #: runs of each path, alternating
TOPIC = "bench.scale."
PROBE = "probe."
END = "end."
GOAL_RSS_MB = 80.0

#: the bare baseline: ib_async connected to the simulator, then idle until killed
BARE = """
import sys, ib_async
ib = ib_async.IB()
ib.connect("127.0.0.1", int(sys.argv[1]), clientId=int(sys.argv[2]), timeout=20)
print("connected", flush=True)
ib.sleep(3600)
"""


# -- memory ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    uss_mb: float
    pss_mb: float


def memory(pid: int) -> Memory:
    info = psutil.Process(pid).memory_full_info()
    return Memory(info.rss / 2**20, info.uss / 2**20, info.pss / 2**20)


def measure_bare(port: int) -> Memory:
    """The bare ib_async process, connected to the simulator and settled."""
    proc = subprocess.Popen([sys.executable, "-c", BARE, str(port), str(BASELINE_CLIENT_ID)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "connected":
            raise RuntimeError(f"the bare ib_async baseline did not connect (got {line!r})")
        time.sleep(SETTLE_S)
        return memory(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def running(system: System) -> dict[str, int]:
    """Every RUNNING program's pid, from one `ats-ctl status`."""
    return {s["name"]: int(s["pid"]) for s in system.ctl_json("status")
            if s.get("state") == "RUNNING" and s.get("pid")}


def started(system: System, name: str) -> bool:
    log = system.home / "log" / f"strategy-{name}.log"
    return log.exists() and f"strategy {name} running (clientId" in log.read_text(errors="replace")


def host_pids(system: System, names: list[str]) -> dict[str, int]:
    pids = running(system)
    missing = [n for n in names if n not in pids]
    if missing:
        raise RuntimeError(f"not RUNNING: {', '.join(missing)}; see {system.home}/log")
    return {n: pids[n] for n in names}


# -- bus latency at a fixed rate -------------------------------------------------------------


def paced(n: int, rate: float, send: Callable[[int], object]) -> float:
    """Call ``send(i)`` for i in 0..n-1 at ``rate`` per second on average: each pass sends
    every event that has fallen due, then sleeps one period. Returns the seconds it took."""
    period = 1.0 / rate
    t0 = time.perf_counter()
    sent = 0
    while sent < n:
        due = min(n, int((time.perf_counter() - t0) * rate) + 1)
        while sent < due:
            send(sent)
            sent += 1
        time.sleep(period)
    return time.perf_counter() - t0


def raw_publisher(ep: str, n: int, ready: Any, out: Connection) -> None:
    ctx, pub = raw_pub(ep, ready)
    topic = TOPIC.encode()
    seconds = paced(n, RATE, lambda i: pub.send_multipart([topic, msgpack.packb(_payload(i))]))
    pub.send_multipart([END.encode(), b""])
    out.send(seconds)
    time.sleep(0.5)
    pub.close()
    ctx.term()


def bus_publisher(ep: str, n: int, ready: Any, out: Connection) -> None:
    from bus.publisher import Publisher

    ctx = zmq.Context()
    pub = Publisher(ctx, ep, "bench", hwm=0)
    while not ready.is_set():
        pub.publish(PROBE, "probe", {})
        time.sleep(0.01)
    seconds = paced(n, RATE, lambda i: pub.publish(TOPIC, "bench", _payload(i)))
    pub.publish(END, "end", {})
    out.send(seconds)
    time.sleep(0.5)
    if pub.dropped:
        raise RuntimeError(f"the bus publisher dropped {pub.dropped}")
    pub.close()
    ctx.term()


def raw_subscriber(ep: str, ready: Any, out: Connection) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect(ep)
    for p in (TOPIC, PROBE, END):
        sub.setsockopt(zmq.SUBSCRIBE, p.encode())
    lat: list[int] = []
    while True:
        topic, data = sub.recv_multipart()
        if topic == PROBE.encode():
            ready.set()
            continue
        if topic == END.encode():
            break
        t0 = msgpack.unpackb(data)["t0"]
        lat.append(time.perf_counter_ns() - t0)
    out.send((lat, 0))
    sub.close(linger=0)
    ctx.term()


def bus_subscriber(ep: str, ready: Any, out: Connection) -> None:
    from bus.subscriber import SyncSubscriber

    ctx = zmq.Context()
    sub = SyncSubscriber(ctx, ep, [TOPIC, PROBE, END], hwm=0)
    lat: list[int] = []
    while True:
        msg = sub.recv(None)
        assert msg is not None
        topic, env = msg
        if topic == PROBE:
            ready.set()
            continue
        if topic == END:
            break
        lat.append(time.perf_counter_ns() - env.body["t0"])
    out.send((lat, len(sub.gaps)))
    sub.close()
    ctx.term()


@dataclass
class Latency:
    """The runs of one path, pooled."""

    sent: int = 0
    gaps: int = 0
    seconds: float = 0.0  #: the publishers' paced time
    ns: list[int] = field(default_factory=list)  #: one-way latency of each event received

    @property
    def received(self) -> int:
        return len(self.ns)

    @property
    def rate(self) -> float:
        """Events per second the publishers reached."""
        return self.sent / self.seconds if self.seconds else float("nan")

    @property
    def p50_us(self) -> float:
        return _pct_us(self.ns, 0.5)

    @property
    def p99_us(self) -> float:
        return _pct_us(self.ns, 0.99)

    @property
    def max_us(self) -> float:
        return max(self.ns) / 1000.0 if self.ns else float("nan")


def _pct_us(ns: list[int], q: float) -> float:
    s = sorted(ns)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0 if s else float("nan")


def measure_hop(kind: str, publish_ep: str, subscribe_ep: str, into: Latency) -> None:
    """One paced run, added to ``into``: raw PUB->SUB (``kind`` raw, ``publish_ep`` bound by
    the publisher) or the bus through the system's hub (``kind`` bus)."""
    spawn = mp.get_context("spawn")
    ready = spawn.Event()
    sub_rx, sub_tx = spawn.Pipe(duplex=False)
    pub_rx, pub_tx = spawn.Pipe(duplex=False)
    n = int(RATE * SECONDS)
    sub_target = raw_subscriber if kind == "raw" else bus_subscriber
    pub_target = raw_publisher if kind == "raw" else bus_publisher
    procs = [spawn.Process(target=sub_target, args=(subscribe_ep, ready, sub_tx)),
             spawn.Process(target=pub_target, args=(publish_ep, n, ready, pub_tx))]
    for p in procs:
        p.start()
    try:
        if not sub_rx.poll(SECONDS * 10 + 60):
            raise RuntimeError(f"the {kind} subscriber reported nothing")
        lat, gaps = sub_rx.recv()
        seconds = pub_rx.recv()
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.terminate()
                p.join(5)
    into.sent += n
    into.gaps += gaps
    into.seconds += seconds
    into.ns.extend(lat)


# -- the run ---------------------------------------------------------------------------------


def fitting(cfg: Any, wanted: int) -> int:
    """How many of ``wanted`` strategies the registry lets one Gateway take."""
    own = set(apiclients.system_client_ids(cfg).values())
    return min(wanted, apiclients.MAX_API_CLIENTS - len(own))


def configure(system: System, names: list[str], on_first: int) -> None:
    """The bench's ats.toml: the simulators in a pinned session, the N idle strategies seeded,
    those past ``on_first`` on a second simulated venue."""
    import tomllib

    path = system.home / "ats.toml"
    data = tomllib.loads(path.read_text())
    data["sim"]["start"] = SIM_START
    if len(names) > on_first:
        data["venues"] = [{"name": SECOND, "kind": "sim", "port": _free_port(),
                           "admin_port": _free_port()}]
    # no capital: an idle strategy sizes nothing, and N default weights would pass 1.0
    data["manager"]["seed_strategies"] = [
        {"name": n, "spec": IDLE_SPEC, "target_weight": 0.0, "min_weight": 0.0,
         "max_weight": 0.0, **({"venue": SECOND} if i >= on_first else {})}
        for i, n in enumerate(names)]
    path.write_text(tomli_w.dumps(data))


def report(n: int, hosts: dict[str, Memory], bare: Memory, raw: Latency,
           bus: Latency) -> list[Figure]:
    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    rss = [m.rss_mb for m in hosts.values()]
    uss = [m.uss_mb for m in hosts.values()]
    pss = [m.pss_mb for m in hosts.values()]
    per_rss = mean(rss)
    out = [
        Figure("idle strategy RSS (mean)", per_rss, "MB", bare.rss_mb, f"<= {GOAL_RSS_MB:.0f} MB",
               per_rss <= GOAL_RSS_MB),
        Figure("idle strategy RSS (max)", max(rss), "MB", bare.rss_mb),
        Figure("idle strategy USS (mean)", mean(uss), "MB", bare.uss_mb),
        Figure("idle strategy PSS (mean)", mean(pss), "MB", bare.pss_mb),
        Figure(f"{n} idle strategies RSS total", sum(rss), "MB", bare.rss_mb * n),
        Figure(f"{n} idle strategies PSS total", sum(pss), "MB", bare.pss_mb * n),
        Figure("bus hop p50 at 10k/s", bus.p50_us, "us", raw.p50_us),
        Figure("bus hop p99 at 10k/s", bus.p99_us, "us", raw.p99_us),
        Figure("bus hop max at 10k/s", bus.max_us, "us", raw.max_us),
        Figure("bus rate reached", bus.rate, "/s", raw.rate),
    ]
    print(f"scale benchmark: {n} idle strategy hosts under supervisord "
          f"(bench/idle_strategy.py), memory read {SETTLE_S:.0f} s after the last was RUNNING; "
          f"baseline: bare python + ib_async connected to the same simulator")
    print(f"{'figure':<34}{'baseline':>12}{'system':>12}{'ratio':>8}  {'unit':<6}goal")
    for f in out:
        ratio = f"{f.ratio:>8.2f}" if f.ratio is not None else f"{'':>8}"
        base = f"{f.baseline:>12,.1f}" if f.baseline is not None else f"{'':>12}"
        verdict = "" if f.met is None else (" MET" if f.met else " NOT MET")
        print(f"{f.name:<34}{base}{f.value:>12,.1f}{ratio}  {f.unit:<6}{f.goal}{verdict}")
    print(f"bus at {RATE:,}/s, {ROUNDS} runs of {SECONDS:.0f} s each path, alternating: raw "
          f"received {raw.received}/{raw.sent}; "
          f"bus received {bus.received}/{bus.sent}, {bus.gaps} gaps (baseline: raw pyzmq "
          "PUB->SUB, one hop; bus: Publisher -> hub -> Subscriber, two hops)")
    print("per host (RSS/USS/PSS MB): " + ", ".join(
        f"{name} {m.rss_mb:.0f}/{m.uss_mb:.0f}/{m.pss_mb:.0f}" for name, m in hosts.items()))
    return out


def _phase(t_start: float, what: str) -> None:
    print(f"[{time.monotonic() - t_start:5.1f}s] {what}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    wanted = int(args[0]) if args else STRATEGIES
    t_start = time.monotonic()
    system = System()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-scale-", dir="/tmp"))
    run_dir.chmod(0o700)
    try:
        n = wanted
        on_first = fitting(system.cfg(), wanted)
        if on_first < n:
            print(f"{on_first} strategies on the first venue, {n - on_first} on a second: one "
                  f"Gateway takes {apiclients.MAX_API_CLIENTS} API clients and the system's "
                  f"own clientIds ({', '.join(apiclients.system_client_ids(system.cfg()))}) "
                  "hold the rest")
        names = [f"idle{i:02d}" for i in range(n)]
        configure(system, names, on_first)
        cfg = system.cfg()
        port = int(cfg.venue["port"])
        _phase(t_start, f"ats-ctl up with {n} idle strategies (home {system.home})")
        system.ctl("up", timeout=UP_TIMEOUT_S)
        # On two cores N hosts starting together take a while, and the manager shows a host
        # that has not yet sent its first heartbeat as UNRESPONSIVE: each one's own log line
        # says it runs, then the status must say RUNNING for all.
        _wait_for(lambda: all(started(system, x) for x in names), UP_TIMEOUT_S,
                  f"{n} idle strategies started")
        _wait_for(lambda: set(names) <= set(running(system)), UP_TIMEOUT_S,
                  f"{n} idle strategies RUNNING")
        _phase(t_start, "all RUNNING; bare ib_async baseline")
        # The baseline settles while the hosts do, so the hosts' settle time is not shorter.
        bare = measure_bare(port)
        before = host_pids(system, names)
        hosts = {name: memory(pid) for name, pid in before.items()}
        _phase(t_start, f"bus at {RATE}/s: raw pyzmq, then the bus")
        raw, bus = Latency(), Latency()
        for i in range(ROUNDS):  # alternating, so both see the same spells of load
            ep = f"ipc://{run_dir}/raw-{i}.sock"
            measure_hop("raw", ep, ep, raw)
            measure_hop("bus", cfg.endpoints.publish, cfg.endpoints.subscribe, bus)
        after = host_pids(system, names)
        restarted = sorted(x for x in names if after[x] != before[x])
        if restarted:
            raise RuntimeError(f"restarted during the bench: {', '.join(restarted)}")
        figures.record("scale", report(n, hosts, bare, raw, bus))
        _phase(t_start, "ats-ctl down")
    finally:
        system.down()
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"(bench_scale took {time.monotonic() - t_start:.1f}s including up/down)")


if __name__ == "__main__":
    main()
