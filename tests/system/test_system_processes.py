"""Issue 4 acceptance: the process skeleton under real supervisord, over real sockets."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgpack
import psutil
import pytest
import zmq
from systemkit import BIN, System, free_port, make_home, wait_for

from ats.cli.lifecycle import REPO_DEPLOY, supervisord_env
from bus import topics
from bus.codec import pack
from bus.subscriber import SyncSubscriber

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

NAMES = ["alpha", "beta", "gamma"]
STRATEGIES = [{"name": n, "spec": "strategies.example", "params": {"quantity": i + 1}}
              for i, n in enumerate(NAMES)]


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory(STRATEGIES)
    wait_for(lambda: s.all_running(NAMES), 60, "three strategies RUNNING")
    return s


class HeartbeatWatch:
    """Records the arrival time of every heartbeat, per process, from a real subscriber."""

    def __init__(self, system: System) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self._stop = threading.Event()
        self._sub = SyncSubscriber(zmq.Context.instance(), system.cfg().endpoints.subscribe,
                                   [topics.prefix("hb")])
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._sub.recv(timeout=0.2)
            if msg is not None:
                self.times[topics.parse(msg[0])[1]].append(time.monotonic())

    def __enter__(self) -> HeartbeatWatch:
        self._thread.start()
        wait_for(lambda: all(self.times[n] for n in NAMES), 30, "a heartbeat from each strategy")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sub.close()

    def last(self, name: str) -> float:
        return self.times[name][-1] if self.times[name] else 0.0

    def max_gap(self, name: str) -> float:
        t = self.times[name] + [time.monotonic()]
        return max(b - a for a, b in itertools.pairwise(t))


def test_status_json_lists_each_strategy_with_pid_and_client_id(system: System) -> None:
    statuses = [s for s in system.json("status") if s["kind"] == "strategy"]
    assert {s["name"] for s in statuses} == set(NAMES)
    for s in statuses:
        assert s["state"] == "RUNNING" and s["pid"] > 0
    ids = [s["client_id"] for s in statuses]
    assert len(set(ids)) == 3 and 0 not in ids  # unique, and never the broker's master id


def test_status_lists_the_systems_processes_and_the_brokers_venue_connection(
        system: System) -> None:
    def processes() -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in system.json("status") if s["kind"] == "process"}

    rows = wait_for(lambda: (r := processes())["broker"]["venue"] == "connected" and r, 30,
                    "the broker's venue connection in status")
    assert set(rows) == {"bus", "manager", "broker", "gateway-sim", "web", "alerts",
                         "scheduler"}
    for name, row in rows.items():
        assert row["state"] == "RUNNING" and row["pid"] == system.pid_of(name), row
    assert rows["broker"]["venue_since"] and rows["broker"]["disk"] == "OK"
    table = system.ctl("status").stdout
    assert "PROCESS" in table and "connected" in table


ASYNCIO_PROCESSES = (*NAMES, "manager", "broker", "web")


def _sampled(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """The rows by name once every running program has a CPU figure (its second sample) and
    every asyncio process a heartbeat of its current pid (its loop lag)."""
    by_name = {r["name"]: r for r in rows}
    running = [r for r in by_name.values() if r["state"] == "RUNNING"]
    done = len(running) >= len(NAMES) + 5 and all(r["cpu_percent"] is not None for r in running)
    beat = all("loop_lag_ms" in by_name.get(name, {}) for name in ASYNCIO_PROCESSES)
    return by_name if done and beat else None


def test_top_lists_every_process_with_its_memory_cpu_files_threads_and_loop_lag(
        system: System) -> None:
    rows = wait_for(lambda: _sampled(system.json("top", "--once")), 60,
                    "a CPU figure and loop lag of every process in top")
    programs = {p.name: p for p in system.supervisor().all_processes()}
    for program, info in programs.items():
        if info.state != "RUNNING":
            continue
        row = rows[program.removeprefix("strategy-")]
        assert row["pid"] == info.pid and row["rss_mb"] > 5, row
        assert row["cpu_percent"] >= 0 and row["threads"] >= 1 and row["num_fds"] > 0, row
    for name in ASYNCIO_PROCESSES:
        assert rows[name]["loop_lag_ms"] is not None and rows[name]["loop_lag_ms"] < 5000
    assert rows["bus"]["messages_in_per_s"] > 0  # heartbeats alone flow every second
    assert "order_latency" in rows[NAMES[0]]
    table = system.ctl("top", "--once").stdout
    assert "RSS MB" in table and "msg/s" in table


def test_status_json_has_the_rss_and_cpu_of_each_process_and_strategy(system: System) -> None:
    rows = wait_for(lambda: (r := system.json("status")) and
                    all(x["cpu_percent"] is not None for x in r if x["state"] == "RUNNING")
                    and r, 30, "rss_mb and cpu_percent in status --json")
    for row in rows:
        if row["state"] == "RUNNING":
            assert row["rss_mb"] > 5 and row["cpu_percent"] >= 0, row


def test_metrics_of_the_web_process_parse_with_the_prometheus_parser(system: System) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    url = system.ctl("web", "url").stdout.strip().rstrip("/") + "/metrics"

    def scrape() -> dict[str, list[Any]] | None:
        with urllib.request.urlopen(url, timeout=5) as r:  # no login: read-only
            text = r.read().decode()
        found = {f.name: list(f.samples) for f in text_string_to_metric_families(text)}
        rss = {s.labels["process"] for s in found["ats_process_resident_memory_bytes"]}
        states = {s.labels["strategy"] for s in found["ats_strategy_state"]}
        return found if {"broker", "web", *NAMES} <= rss and set(NAMES) <= states else None

    found = wait_for(scrape, 30, "every process and strategy in /metrics")
    for name in ("ats_process_cpu_percent", "ats_process_cpu_seconds", "ats_venue_connected",
                 "ats_order_round_trip_seconds", "ats_fills", "ats_risk_refusals",
                 "ats_bus_messages", "ats_process_event_loop_lag_seconds"):
        assert name in found, name
    venue = {s.labels["process"]: s.value for s in found["ats_venue_connected"]}
    assert venue["broker"] == 1.0
    running = {s.labels["strategy"] for s in found["ats_strategy_state"]
               if s.labels["state"] == "RUNNING" and s.value == 1.0}
    assert set(NAMES) <= running


def test_strategies_connect_to_the_venue_with_their_own_client_ids(system: System) -> None:
    from ats.sim.admin import AdminClient

    cfg = system.cfg()
    admin = AdminClient("127.0.0.1", cfg.section("sim")["admin_port"])
    wanted = {s["client_id"] for s in system.json("status") if s["kind"] == "strategy"} | {0}
    wait_for(lambda: wanted <= set(admin.call("status")["clients"]),
             30, "every strategy and the broker connected to the simulator")


def test_stopping_one_strategy_leaves_the_others_untouched(system: System) -> None:
    before = system.status()
    system.ctl("stop", "beta")
    after = system.status()
    assert after["beta"]["state"] == "STOPPED" and after["beta"]["desired"] == "stopped"
    for name in ("alpha", "gamma"):
        assert after[name]["state"] == "RUNNING"
        assert after[name]["pid"] == before[name]["pid"]
    system.ctl("start", "beta")
    assert system.status()["beta"]["state"] == "RUNNING"


def test_kill_9_restarts_only_that_strategy_with_its_client_id(system: System) -> None:
    # How fast the restart is, is measured by `make bench`; here the bounds only catch a hang.
    before = system.status()
    victim = before["alpha"]
    with HeartbeatWatch(system) as hb:
        os.kill(victim["pid"], signal.SIGKILL)
        rpc = system.supervisor().rpc
        wait_for(lambda: (p := rpc.getProcessInfo("strategy-alpha"))["statename"] == "RUNNING"
                 and p["pid"] != victim["pid"], 30, "alpha restarted by supervisord",
                 interval=0.05)
        wait_for(lambda: system.status()["alpha"]["state"] == "RUNNING", 30,
                 "alpha reported RUNNING by the manager")
        restarted_at = time.monotonic()
        wait_for(lambda: all(hb.last(name) > restarted_at for name in ("alpha", "beta", "gamma")),
                 30, "heartbeats from all three after the restart")
        after = system.status()
    assert after["alpha"]["client_id"] == victim["client_id"]
    assert after["alpha"]["pid"] != victim["pid"]
    for name in ("beta", "gamma"):
        assert after[name]["pid"] == before[name]["pid"]
        assert after[name]["state"] == "RUNNING"
        assert hb.max_gap(name) < 10.0, f"{name} heartbeats stopped: {hb.max_gap(name):.2f}s"


def test_parameter_change_reaches_the_running_strategy(system: System) -> None:
    out = system.ctl("set", "gamma", "quantity=7").stdout
    assert "acknowledged by the running strategy" in out
    entry = next(e for e in system.json("list") if e["name"] == "gamma")
    assert entry["params"]["quantity"] == 7
    wait_for(lambda: "params changed" in system.log("strategy-gamma"), 10, "gamma's log line")


def test_bad_parameter_is_refused_with_its_own_exit_code(system: System) -> None:
    proc = system.ctl("set", "gamma", "quantity=-3", check=False)
    assert proc.returncode == 7
    assert "quantity" in proc.stderr
    proc = system.ctl("set", "gamma", "no_such_param=1", check=False)
    assert proc.returncode == 7


def test_unknown_strategy_and_already_running_have_distinct_exit_codes(system: System) -> None:
    unknown = system.ctl("start", "nope", check=False)
    running = system.ctl("start", "alpha", check=False)
    assert unknown.returncode == 4 and "unknown strategy 'nope'" in unknown.stderr
    assert running.returncode == 5 and "already running" in running.stderr


def test_unreachable_manager_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "h"
    env = {**os.environ, "ATS_HOME": str(home)}
    subprocess.run([str(BIN / "ats-ctl"), "init"], env=env, check=True, capture_output=True)
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ats-ctl"), "status"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 3
    assert "manager is unreachable" in proc.stderr and len(proc.stderr.splitlines()) == 1
    # at once, not after the request's 10 s timeout (generous: the CLI's own start-up is slow
    # on a loaded machine)
    assert time.monotonic() - started < 8.0


def test_up_names_what_is_not_ready_and_exits_23() -> None:
    # A real Gateway where none listens: the processes run, the broker cannot connect.
    home = make_home([], {"venue": {"kind": "ib", "port": free_port()}})
    system = System(home)
    try:
        proc = system.ctl("up", "--timeout", "8", check=False, timeout=120)
        assert proc.returncode == 23, proc.stdout + proc.stderr
        assert "ats is not ready after 8s: the broker is not connected to the venue at " \
               f"127.0.0.1:{system.cfg().venue['port']} ([venue] host and port" in proc.stderr
    finally:
        system.ctl("down", check=False, timeout=90)
        shutil.rmtree(home, ignore_errors=True)


def test_broken_strategy_files_are_refused(system: System, tmp_path: Path) -> None:
    syntax = tmp_path / "broken_syntax.py"
    syntax.write_text("def oops(:\n    pass\n")
    no_class = tmp_path / "no_class.py"
    no_class.write_text("X = 1\n")
    bad_import = tmp_path / "bad_import.py"
    bad_import.write_text("import does_not_exist_anywhere\n")
    for path in (syntax, no_class, bad_import):
        proc = system.ctl("add", str(path), check=False)
        assert proc.returncode == 8, proc.stderr
        assert "cannot load strategy" in proc.stderr
    names = {e["name"] for e in system.json("list")}
    assert not names & {"broken_syntax", "no_class", "bad_import"}


def test_a_strategy_added_at_runtime_gets_a_new_client_id_and_runs(system: System) -> None:
    system.ctl("add", "strategies.example", "--name", "delta", "-p", "quantity=2")
    system.ctl("start", "delta")
    status = system.status()
    assert status["delta"]["state"] == "RUNNING"
    assert status["delta"]["client_id"] not in {status[n]["client_id"] for n in NAMES}
    system.ctl("remove", "delta")
    assert "delta" not in system.status()


def test_late_tail_subscriber_sees_current_state_at_once(system: System) -> None:
    proc = system.ctl("tail", "--topic", "hb.", "--heartbeats", "--count", "1", timeout=30)
    manager = proc.stdout.split("-- manager.snapshot")[1].split("\n-- ")[0].splitlines()
    for name in NAMES:
        [line] = [line for line in manager if line.startswith(f"   {name}: ")]
        assert '"state":"RUNNING"' in line, line


def test_a_late_repl_holds_the_current_state_at_once(system: System) -> None:
    from ats.cli.live import LiveState

    live = LiveState(system.cfg().endpoints).start()
    frame = live.frame("strategies")
    assert set(frame["name"]) >= set(NAMES)
    assert set(frame.set_index("name").loc[NAMES, "state"]) == {"RUNNING"}


def test_a_frozen_strategy_is_reported_unresponsive(system: System) -> None:
    pid = system.status()["beta"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: system.status()["beta"]["state"] == "UNRESPONSIVE", 15,
                 "beta UNRESPONSIVE")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: system.status()["beta"]["state"] == "RUNNING", 15, "beta RUNNING again")


def test_a_crash_looping_strategy_is_stopped_and_the_others_run_on(system: System) -> None:
    probe = str(Path(__file__).with_name("probe_strategy.py"))
    system.ctl("add", probe, "--name", "crashy", "-p", "mode=crash")
    system.ctl("start", "crashy", check=False)  # it may crash before `start` returns
    wait_for(lambda: system.status()["crashy"]["state"] == "CRASH_LOOP", 120,
             "crashy stopped as a crash loop")
    assert "crash loop" in system.log("strategy-crashy")
    assert system.all_running(NAMES)
    system.ctl("set", "crashy", "mode=idle")
    system.ctl("start", "crashy")
    wait_for(lambda: system.status()["crashy"]["state"] == "RUNNING", 30, "crashy fixed")
    system.ctl("remove", "crashy")


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_garbage_frames_get_errors_and_every_process_stays_up(system: System) -> None:
    cfg = system.cfg()
    eps = cfg.endpoints
    sv = system.supervisor()
    pids = {p.name: p.pid for p in sv.all_processes() if p.state == "RUNNING"}
    ctx = zmq.Context.instance()
    frames = [
        b"", b"\x00\xff garbage", b"\x93\x01\x02",  # not msgpack / truncated
        msgpack.packb({"v": 99, "type": "req", "source": "x", "seq": 1, "ts": 0.0, "body": {}}),
        msgpack.packb({1: 2}), msgpack.packb(msgpack.ExtType(1, b"x")),
        b"x" * (2 << 20),  # oversized
    ]
    rss_before: dict[str, int] = {}
    for service in ("manager", "broker"):
        rss_before[service] = _rss(pids[service])
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.RCVTIMEO, 10_000)
        dealer.connect(getattr(eps, service))
        for frame in frames:
            dealer.send(frame)
            reply = dealer.recv_multipart()
            assert reply, f"{service} gave no reply to a bad frame"
        # 2000 more, 100 in flight at a time: a client that reads no reply would lose those
        # beyond the sockets' high-water marks, by design.
        for _ in range(20):
            for _ in range(100):
                dealer.send(b"\x00garbage")
            for _ in range(100):
                dealer.recv_multipart()
        dealer.close()
    # Garbage on the bus, bracketed by valid sentinels on a topic of their own: the first one
    # seen proves the path is up (a PUB drops what it sends before it is connected), a later
    # one that the hub went through the garbage and forwards still. The hub cuts a publisher
    # that sends an oversized frame, which then reconnects: the closing sentinel is repeated.
    watch = SyncSubscriber(ctx, eps.subscribe, ["test.garbage."])
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.connect(eps.publish)
    seqs = itertools.count(1)

    def sentinel(last: bool) -> None:
        frame = pack("test", "garbage-test", next(seqs), 0.0, {"last": last})
        pub.send_multipart([b"test.garbage.", frame])

    def through_hub(last: bool) -> bool:
        got = watch.recv(timeout=0.2)
        return got is not None and got[1].body["last"] is last

    wait_for(lambda: sentinel(False) or through_hub(False), 30, "a sentinel through the hub",
             interval=0)
    for frame in frames * 200:
        pub.send_multipart([b"status.alpha.", frame])
    wait_for(lambda: sentinel(True) or through_hub(True), 30,
             "the closing sentinel after the garbage", interval=0)
    pub.close()
    watch.close()
    after = {p.name: p.pid for p in sv.all_processes() if p.state == "RUNNING"}
    assert after == pids, "a process restarted after garbage frames"
    for service in ("manager", "broker"):
        grown = _rss(pids[service]) - rss_before[service]
        assert grown < 30 * 2**20, f"{service} grew {grown / 2**20:.1f} MB"
    assert system.all_running(NAMES)


def test_stopped_strategy_stays_stopped_after_supervisor_reload(system: System) -> None:
    system.ctl("stop", "gamma")
    env = supervisord_env(system.cfg())
    subprocess.run([str(Path(os.sys.executable).parent / "supervisorctl"), "-c",
                    str(REPO_DEPLOY), "reload"], env=env, check=True, capture_output=True)
    # The manager starts what the operator wants running, all in one pass after the reload:
    # once alpha and beta run again, gamma would have been started too.
    wait_for(lambda: system.all_running(["alpha", "beta"]), 90, "alpha and beta back")
    status = system.status()
    assert status["gamma"]["state"] == "STOPPED"
    assert status["gamma"]["desired"] == "stopped"
    info = system.supervisor().rpc.getProcessInfo("strategy-gamma")
    assert info["start"] == 0, "gamma was started after the reload"
