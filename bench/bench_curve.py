"""The bus hop over CURVE TCP against ipc (issue 16), measured in the same run.

The same parties as bench_bus (Publisher -> hub process -> Subscriber, each in its own
process; Requester -> Service for the round trip), over three transports: ipc in a 0700
folder (the default), plain TCP on 127.0.0.1, and TCP on 127.0.0.1 with CURVE (keys and a ZAP
authenticator with an allow-list, as with [bus] curve = true). Figures: one-way hop latency
p50/p99 (paced), lossless hop throughput (burst), request round trip p50/p99; each with its
ratio to ipc.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import bench_bus
from bench.figures import Figure, record
from bus import security
from bus.security import Curve

N_THROUGHPUT = 50_000
N_LATENCY = 2_000
N_RTT = 2_000
TRANSPORTS = ("ipc", "tcp", "curve")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _endpoint(transport: str, run_dir: Path, name: str) -> str:
    return f"ipc://{run_dir}/{name}.sock" if transport == "ipc" else \
        f"tcp://127.0.0.1:{_free_port()}"


def make_curve(folder: Path) -> Curve:
    """A server pair, one allowed client pair: what `ats-ctl keys generate` makes."""
    server = security.load_pair(security.generate(folder, "server")[1])
    client = security.load_pair(security.generate(folder, "local")[1])
    (folder / "allowed").mkdir()
    security.write_public(folder / "allowed" / "local.key", client.public)
    return Curve(client, server.public, server, folder / "allowed")


def party(curve: Curve | None, target: Callable[..., None], *args: Any) -> None:
    """A spawned party: bench_bus's function with this run's sizes, CURVE on when given."""
    bench_bus.N_THROUGHPUT, bench_bus.N_LATENCY, bench_bus.N_RTT = \
        N_THROUGHPUT, N_LATENCY, N_RTT
    security.configure(curve)
    try:
        target(*args)
    finally:
        security.close()


def service(ep: str, ready: Any) -> None:
    """bench_bus's echo service; its authenticator stopped before its context ends."""
    import asyncio

    import zmq.asyncio

    from bus.service import Service

    async def run() -> None:
        ctx = zmq.asyncio.Context()
        svc = Service(ctx, ep, "bench")
        svc.register("echo", lambda params: params)
        svc.register("quit", lambda params: svc.stop())
        svc.bind()
        ready.set()
        await svc.run()
        security.close()
        ctx.term()

    asyncio.run(run())


def run_hop(transport: str, mode: str, run_dir: Path,
            curve: Curve | None) -> tuple[int, float, list[int]]:
    spawn = mp.get_context("spawn")
    ready = spawn.Event()
    rx, tx = spawn.Pipe(duplex=False)
    front = _endpoint(transport, run_dir, f"pub-{mode}")
    back = _endpoint(transport, run_dir, f"sub-{mode}")
    hub = spawn.Process(target=party, args=(curve, bench_bus.hub_process, front, back))
    hub.start()
    procs = [spawn.Process(target=party, args=(curve, bench_bus.bus_subscriber, back, ready, tx)),
             spawn.Process(target=party, args=(curve, bench_bus.bus_publisher, front, mode,
                                               ready))]
    for p in procs:
        p.start()
    count, seconds, lat, gaps = rx.recv()
    for p in procs:
        p.join(30)
    hub.terminate()
    hub.join(10)
    assert gaps == 0, f"{gaps} gaps over {transport}"
    return count, seconds, lat


def run_rtt(transport: str, run_dir: Path, curve: Curve | None) -> list[int]:
    spawn = mp.get_context("spawn")
    ready = spawn.Event()
    ep = _endpoint(transport, run_dir, "rtt")
    server = spawn.Process(target=party, args=(curve, service, ep, ready))
    server.start()
    ready.wait(20)
    bench_bus.N_RTT = N_RTT
    security.configure(curve)
    try:
        lat = bench_bus.bus_rtt(ep)
    finally:
        security.configure(None)
    bench_bus.join_or_terminate(server)
    return lat


def as_figures(measured: dict[str, dict[str, float]]) -> list[Figure]:
    """Plain TCP and CURVE TCP, each against ipc (issue 16 states no goal)."""
    out = []
    for name, ipc in measured["ipc"].items():
        label, unit = name.rsplit(" (", 1)
        for transport, prefix in (("tcp", "tcp"), ("curve", "curve tcp")):
            out.append(Figure(f"{prefix} {label}", measured[transport][name], unit.rstrip(")"),
                              ipc))
    return out


def main() -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="bench-curve-"))
    run_dir.chmod(0o700)
    try:
        curve = make_curve(run_dir / "keys")
        figures: dict[str, dict[str, float]] = {t: {} for t in TRANSPORTS}
        for transport in TRANSPORTS:
            c = curve if transport == "curve" else None
            n, dt, _ = run_hop(transport, "burst", run_dir, c)
            assert n == N_THROUGHPUT, (transport, n)
            figures[transport]["hop throughput (msg/s)"] = n / dt
            _, _, lat = run_hop(transport, "paced", run_dir, c)
            figures[transport]["hop latency p50 (us)"] = bench_bus._pct(lat, 0.5)
            figures[transport]["hop latency p99 (us)"] = bench_bus._pct(lat, 0.99)
            rtt = run_rtt(transport, run_dir, c)
            figures[transport]["request RTT p50 (us)"] = bench_bus._pct(rtt, 0.5)
            figures[transport]["request RTT p99 (us)"] = bench_bus._pct(rtt, 0.99)
        print(f"bus over CURVE TCP vs ipc (separate processes, 127.0.0.1; throughput "
              f"N={N_THROUGHPUT}, latency N={N_LATENCY} paced "
              f"{bench_bus.PACE_S * 1e6:.0f} us, RTT N={N_RTT})")
        print(f"{'figure':<26}{'ipc':>12}{'tcp':>12}{'curve tcp':>12}{'curve/ipc':>11}")
        for name in figures["ipc"]:
            ipc, tcp, cur = (figures[t][name] for t in TRANSPORTS)
            print(f"{name:<26}{ipc:>12,.1f}{tcp:>12,.1f}{cur:>12,.1f}{cur / ipc:>11.2f}")
        record("curve", as_figures(figures))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
