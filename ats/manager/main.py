"""ats-manager: owns the registry, drives supervisord, watches health, serves ats-ctl.

Health comes from two places: supervisord's process states (BACKOFF, EXITED, FATAL, ...) and
bus heartbeats. A RUNNING strategy whose heartbeat is older than ``heartbeat_timeout`` is
reported as UNRESPONSIVE. A RUNNING strategy whose handlers raised within the last
``ERRORING_SECONDS`` (its heartbeat carries its errors: ``errors_5m`` and the last one) is
reported as ERRORING, with the exception's text in ``last_error``; it turns RUNNING again
``ERRORING_SECONDS`` after its last error. Every change is published on ``status.<strategy>``
as a Clone update, so a late subscriber asks for the snapshot and then applies newer updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import zmq
import zmq.asyncio

from ats import apiclients
from ats import config as config_mod
from ats.agent.wire import host_of
from ats.errors import RESERVED_NAMES, Code
from ats.host import crashloop
from ats.host.crashloop import CRASH_LOOP_EXIT
from ats.host.errorlog import HandlerError
from ats.manager import supervisor as sv
from ats.manager.registry import NAME_RE, Entry, Registry, RegistryError
from ats.manager.remote import RemoteHosts
from ats.manager.venuesims import sim_programs
from ats.processes import BusLogHandler, install_stop_handlers, service_main
from ats.sdk import buildcheck
from ats.stats.publisher import StatsPublisher
from bus import topics
from bus.clone import CloneState, register_snapshot
from bus.errors import RequestError
from bus.heartbeat import Heartbeater, LivenessTracker
from bus.publisher import Publisher
from bus.service import Service
from bus.subscriber import Subscriber

log = logging.getLogger("ats.manager")
T = TypeVar("T")
PARAMS_ACK_TIMEOUT = 5.0
#: Seconds a started host may take to send its first heartbeat.
STARTUP_GRACE = 20.0
#: supervisord programs of the system itself, shown after the strategies in `ats-ctl status`
PROCESSES = ("bus", "manager", "broker", "gateway-sim", "web", "alerts", "scheduler")
#: A RUNNING strategy whose handlers raised within this many seconds is ERRORING: one error
#: is enough (a strategy on daily bars may raise once a day), and it clears by itself.
ERRORING_SECONDS = 60.0
#: States in which the strategy's process is up (or coming up): start refuses, stop acts.
UP_STATES = frozenset({"RUNNING", "ERRORING", "STARTING", "UNRESPONSIVE", "BACKOFF"})


def _validate_spec(spec: str, params: dict[str, Any]) -> dict[str, Any]:
    """Import the strategy and validate its params; return the full validated params."""
    from ats.sdk.loader import StrategyLoadError, validate
    from ats.sdk.params import ParamError

    try:
        _cls, validated = validate(spec, params)
    except StrategyLoadError as exc:
        raise RequestError(Code.INVALID_STRATEGY, str(exc)) from exc
    except ParamError as exc:
        raise RequestError(Code.BAD_PARAMS, str(exc)) from exc
    mapping: dict[str, Any] = validated.to_mapping()
    return mapping


def _load_class(spec: str) -> Any:
    from ats.sdk.loader import load_strategy

    return load_strategy(spec)


def _spec_version(spec: str) -> tuple[str, int]:
    """A .py spec's cache key changes when its file does."""
    path = Path(spec)
    try:
        return spec, path.stat().st_mtime_ns if spec.endswith(".py") else 0
    except OSError:
        return spec, 0


def error_fields(hb: Mapping[str, Any]) -> dict[str, Any]:
    """A status's error fields from a host's heartbeat: its error count over the last 5
    minutes and its last error ("Type: message", where and when)."""
    last = hb.get("last_error")
    err = None
    if isinstance(last, Mapping):
        err = HandlerError(str(last.get("where", "")), str(last.get("type", "")),
                           str(last.get("message", "")), float(last.get("time") or 0.0))
    return {"errors_5m": int(hb.get("errors_5m") or 0),
            "last_error": err.text if err else None,
            "last_error_where": err.where if err else None,
            "last_error_time": err.time if err else None}


def _sizes_by_weight(spec: str) -> bool:
    """Whether the strategy sizes its orders from its target weight of the account (its class
    says ``sizes_by_weight = True``, as the shipped ones that call order_target_percent,
    rebalance_to_weight or capital() do). Those that trade fixed quantities need no weight."""
    from ats.sdk.loader import StrategyLoadError, load_strategy

    try:
        cls = load_strategy(spec)
    except StrategyLoadError as exc:
        raise RequestError(Code.INVALID_STRATEGY, str(exc)) from exc
    return bool(getattr(cls, "sizes_by_weight", False))


def _unweighted(name: str) -> str:
    return (f"strategy {name!r} sizes its orders by its target weight, which is 0, so it "
            f"would trade nothing: give it one first, e.g. `ats-ctl weights {name} "
            f"--target 0.05 --min 0.04 --max 0.06`")


def _stable(status: dict[str, Any]) -> dict[str, Any]:
    """A status without the fields that change every second (not worth an update)."""
    return {k: v for k, v in status.items() if k not in ("uptime", "last_heartbeat")}


class Manager:
    def __init__(self, cfg: config_mod.Config) -> None:
        self.cfg = cfg
        mcfg = cfg.section("manager")
        self.hb_timeout = float(mcfg["heartbeat_timeout"])
        self.registry = Registry(
            cfg.arctic_uri, int(mcfg["first_client_id"]),
            reserved_client_ids=frozenset(int(v["master_client_id"]) for v in cfg.venues),
        )
        self.ctx = zmq.asyncio.Context()
        self.sync_ctx = zmq.Context()
        eps = cfg.endpoints
        self.publisher = Publisher(self.sync_ctx, eps.publish, "manager")
        self.service = Service(self.ctx, eps.manager, "manager")
        self.subscriber = Subscriber(self.ctx, eps.subscribe,
                                     prefixes=(topics.prefix("hb"), topics.prefix("params")))
        self.statuses = CloneState(self.publisher, topics.status, name="strategies")
        self.liveness = LivenessTracker()
        self.started_at = time.time()  #: when this manager began to listen for heartbeats
        self.process_rows: list[dict[str, Any]] = []  #: the last refresh's PROCESSES rows
        self.hb_info: dict[str, dict[str, Any]] = {}
        #: supervisord's programs at the last refresh, by program name
        self.programs: dict[str, sv.ProcessInfo] = {}
        #: samples every program, publishes stats.<process> and resource alerts
        self.stats = StatsPublisher(self.publisher, cfg.section("stats"))
        self.supervisor = sv.Supervisor(cfg.supervisor_socket)
        #: the joined hosts: their agents, what their supervisord runs, LOST
        self.remote = RemoteHosts(cfg, self.ctx, self.publisher, self.started_at)
        self._sv_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor")
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._classes: dict[tuple[str, int], Any] = {}  #: spec version -> Strategy class
        self._stop = asyncio.Event()
        self._register_methods()

    # -- plumbing ---------------------------------------------------------------------------

    async def _sv(self, fn: Callable[..., T], *args: Any) -> T:
        """supervisord calls are blocking XML-RPC: run them off the loop, one at a time."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._sv_pool, fn, *args)
        except sv.UNREACHABLE_ERRORS as exc:
            raise RequestError(Code.SUPERVISOR_DOWN,
                               f"supervisord at {self.cfg.supervisor_socket} is unreachable: {exc}"
                               ) from exc

    def _register_methods(self) -> None:
        methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "list": self.m_list, "status": self.m_status, "get": self.m_get,
            "start": self.m_start, "stop": self.m_stop, "restart": self.m_restart,
            "add": self.m_add, "remove": self.m_remove, "enable": self.m_enable,
            "disable": self.m_disable, "set": self.m_set, "set_weights": self.m_set_weights,
            "config": self.m_config, "describe": self.m_describe, "stats": self.m_stats,
        }
        for name, fn in methods.items():
            self.service.register(name, fn)
        register_snapshot(self.service, self.statuses)

    def _entry(self, params: dict[str, Any]) -> Entry:
        name = params.get("name")
        if not isinstance(name, str):
            raise RequestError("BAD_REQUEST", "missing 'name'")
        try:
            return self.registry.get(name)
        except RegistryError as exc:
            raise RequestError(exc.code, exc.message) from exc

    def _write_section(self, name: str) -> bool:
        mcfg = self.cfg.section("manager")
        return sv.write_strategy_section(self.cfg.programs_dir, name, self.cfg.home,
                                         str(mcfg["strategy_python"]), str(mcfg["ib_lib"]))

    # -- startup ----------------------------------------------------------------------------

    async def sync_programs(self) -> None:
        """Write a program section per strategy, load them, and start what should run."""
        self.cfg.programs_dir.mkdir(parents=True, exist_ok=True)
        local = [e for e in self.registry if not self.remote.hosts.is_remote(e.host)]
        names = {e.name for e in local}
        for entry in local:
            self._write_section(entry.name)
        for name in sv.strategy_sections(self.cfg.programs_dir) - names:
            sv.remove_strategy_section(self.cfg.programs_dir, name)
        await self._sv(self.supervisor.load_programs)
        for entry in local:
            if entry.desired == "running" and entry.enabled:
                try:
                    await self._refuse_unweighted(entry)
                except RequestError as exc:
                    log.error("not starting %s: %s", entry.name, exc.message)
                    continue
                log.info("starting %s: the operator's desired state is running", entry.name)
                await self._sv(self.supervisor.start, sv.program_name(entry.name), False)

    # -- health -----------------------------------------------------------------------------

    async def watch_bus(self) -> None:
        async for topic, env in self.subscriber:
            family, name = topics.parse(topic)
            if family == "hb":
                now = time.time()
                self.liveness.beat(name, now)
                self.hb_info[name] = env.body
                host = host_of(name)
                if host is not None:
                    self.agent_beat(host, env.body, now)
            elif family == "params" and env.type == "params_ack":
                fut = self._acks.pop(str(env.body.get("req")), None)
                if fut is not None and not fut.done():
                    fut.set_result(env.body)

    def agent_beat(self, host: str, body: Mapping[str, Any], now: float) -> None:
        """A joined host's agent beat: its programs are the host's view; an agent first heard,
        or back from LOST, gets the registry's program sections of its host."""
        if self.remote.hosts.beat(host, body, now):
            log.info("the agent of host %s is on the bus", host)
            self.remote.sync_soon(host, self._wanted(host), now)

    def _status_of(self, entry: Entry, info: sv.ProcessInfo | None,
                   now: float | None = None, vouched: float | None = None) -> dict[str, Any]:
        """``vouched``: for a strategy on a joined host, when its agent last beat. Its
        heartbeat is judged at that instant, not now: a host that is dying as a whole is the
        agent's to report (LOST, one alert), not each of its strategies' (UNRESPONSIVE)."""
        now = time.time() if now is None else now
        seen = now if vouched is None else min(now, vouched)
        state = info.state if info else "UNKNOWN"
        if state == "EXITED" and info is not None and info.exitstatus == CRASH_LOOP_EXIT:
            state = "CRASH_LOOP"
        last = self.liveness.last_seen(entry.name)
        hb = self.hb_info.get(entry.name, {})
        errors = error_fields(hb)
        if state == "RUNNING" and info is not None:
            if last is not None and last >= info.start:
                silent = seen - last > self.hb_timeout
            else:
                # No beat heard from this run of the host yet: it may still be importing and
                # connecting, or this manager has only just started to listen.
                silent = info.uptime > STARTUP_GRACE and now - self.started_at > self.hb_timeout
            if silent:
                state = "UNRESPONSIVE"
            elif hb.get("pid") == info.pid and errors["last_error_time"] is not None \
                    and now - errors["last_error_time"] <= ERRORING_SECONDS:
                state = "ERRORING"  # errors of this run of the host, not of the one before
        return {
            "kind": "strategy", "name": entry.name, "state": state,
            "pid": info.pid if info else 0, "client_id": entry.client_id,
            "uptime": round(info.uptime, 1) if info else 0.0,
            "last_heartbeat": last, "enabled": entry.enabled, "desired": entry.desired,
            "spec": entry.spec, "exitstatus": info.exitstatus if info else None,
            "venue": hb.get("venue"), "trading_state": hb.get("trading_state"), **errors,
            "host": self.remote.hosts.name(entry.host),
            "venue_name": entry.venue or str(self.cfg.venue["name"]),
        }

    def _entry_status(self, entry: Entry, infos: Mapping[str, sv.ProcessInfo],
                      now: float) -> dict[str, Any]:
        """A strategy's status: from this supervisord, or from its host's agent (LOST when
        the host is)."""
        program = sv.program_name(entry.name)
        hosts = self.remote.hosts
        if not hosts.is_remote(entry.host):
            return self._status_of(entry, infos.get(program), now)
        if hosts.is_lost(entry.host, now):
            return {**self._status_of(entry, None, now), "state": "LOST"}
        if not hosts.known(entry.host):  # this manager has not heard its agent yet
            return {**self._status_of(entry, None, now), "state": "WAITING_HOST"}
        return self._status_of(entry, hosts.info(entry.host, program), now,
                               vouched=hosts.last_beat(entry.host))

    def _wanted(self, host: str) -> dict[str, bool]:
        """The strategies placed on ``host``: whether each should run."""
        return {e.name: e.enabled and e.desired == "running" for e in self.registry
                if e.host == host}

    def _process_rows(self, infos: Mapping[str, sv.ProcessInfo]) -> list[dict[str, Any]]:
        """The system's own processes: supervisord's view, their heartbeats, and the broker's
        connection to the venue."""
        rows = []
        for program in (*PROCESSES, *sim_programs(self.cfg)):
            info = infos.get(program)
            hb = self.hb_info.get(program, {})
            row: dict[str, Any] = {
                "kind": "process", "name": program, "state": info.state if info else "UNKNOWN",
                "pid": info.pid if info else 0,
                "uptime": round(info.uptime, 1) if info else 0.0,
                "last_heartbeat": self.liveness.last_seen(program)}
            if program == "broker":
                row.update({k: hb.get(k) for k in ("venue", "venue_since", "venue_code", "disk",
                                                   "venues")})
            elif program == "gateway-sim" and self.cfg.venue["kind"] != "sim":
                row["venue"] = f"not used: the venue is {self.cfg.venue['host']}:" \
                               f"{self.cfg.venue['port']}"
            rows.append(row)
        return rows

    async def refresh(self) -> dict[str, dict[str, Any]]:
        infos = {p.name: p for p in await self._sv(self.supervisor.all_processes)}
        self.programs = infos
        self.process_rows = self._process_rows(infos)
        out: dict[str, dict[str, Any]] = {}
        now = time.time()
        placed: dict[str, list[str]] = {}  #: joined host -> its strategies
        for entry in self.registry:
            if self.remote.hosts.is_remote(entry.host):
                placed.setdefault(entry.host, []).append(entry.name)
            status = self._entry_status(entry, infos, now)
            out[entry.name] = status
            old = self.statuses.get(entry.name)
            if old is None or _stable(old) != _stable(status):
                if old is not None and old.get("state") != status["state"]:
                    level = logging.WARNING if status["state"] in (
                        "BACKOFF", "EXITED", "FATAL", "UNRESPONSIVE", "ERRORING", "LOST") \
                        else logging.INFO
                    log.log(level, "strategy %s: %s -> %s", entry.name, old.get("state"),
                            status["state"])
                self.statuses.set(entry.name, status)
        for name in list(self.statuses.state):
            if name not in out:
                self.statuses.delete(name)
        self.remote.check(placed, now)
        return out

    async def health_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.refresh()
            except RequestError as exc:
                log.error("health: %s", exc.message)
            except Exception:
                log.exception("health check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)

    # -- control methods --------------------------------------------------------------------

    def _strategy_class(self, spec: str) -> Any:
        """The spec's Strategy class (cached until its file changes), or None if it does not
        load. Blocking: call it off the loop."""
        key = _spec_version(spec)
        if key not in self._classes:
            try:
                self._classes[key] = _load_class(spec)
            except Exception as exc:
                log.warning("cannot load %s to describe it: %s", spec, exc)
                return None
        return self._classes[key]

    def _descriptions(self, entries: list[Entry]) -> dict[str, str]:
        """Each entry's description: its own, else its strategy class's. Blocking."""
        out = {}
        for e in entries:
            cls = None if e.description else self._strategy_class(e.spec)
            out[e.name] = e.description or str(getattr(cls, "description", "") or "")
        return out

    async def m_list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        entries = list(self.registry)
        descriptions = await asyncio.to_thread(self._descriptions, entries)
        return [{**e.to_dict(), "description": descriptions[e.name]} for e in entries]

    async def m_get(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._entry(params).to_dict()

    async def m_describe(self, params: dict[str, Any]) -> dict[str, Any]:
        """`ats-ctl show`: the entry, its description, each parameter's type, default,
        current value and doc, and its status (state, trading state, last error)."""
        entry = self._entry(params)
        cls = await asyncio.to_thread(self._strategy_class, entry.spec)
        rows: list[dict[str, Any]] = []
        if cls is not None:
            bounds = cls.params_type.constraints()
            for name, type_, default, doc in cls.params_type.describe():
                rows.append({"name": name, "type": type_,
                             "default": list(default) if isinstance(default, tuple) else default,
                             "value": entry.params.get(name, default), "doc": doc,
                             **bounds.get(name, {})})
        else:  # the file no longer loads: the stored values, untyped
            rows = [{"name": k, "type": None, "default": None, "value": v, "doc": ""}
                    for k, v in sorted(entry.params.items())]
        status = (await self.refresh())[entry.name]
        return {**entry.to_dict(), "params": rows, "loads": cls is not None,
                "description": entry.description or str(getattr(cls, "description", "") or ""),
                "status": status}

    async def m_status(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Each strategy's status (kind "strategy"), then, unless one strategy is asked for,
        the system's processes (kind "process")."""
        statuses = await self.refresh()
        if params.get("name"):
            entry = self._entry(params)
            return [{**statuses[entry.name], **self.stats.figures(entry.name)}]
        return [{**row, **self.stats.figures(row["name"])}
                for row in (*statuses.values(), *self.process_rows)]

    async def m_stats(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """`ats-ctl top`: the last stats of every program (ats.stats.publisher)."""
        return self.stats.rows()

    async def m_config(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.cfg.effective()

    # -- weights ----------------------------------------------------------------------------

    async def _refuse_unweighted(self, entry: Entry) -> None:
        """A strategy that sizes by weight does not start with a target weight of 0."""
        if entry.target_weight <= 0 and await asyncio.to_thread(_sizes_by_weight, entry.spec):
            raise RequestError(Code.BAD_PARAMS, _unweighted(entry.name))

    def _leverage_problem(self, name: str, target: float) -> str | None:
        """Why giving `name` this target weight breaks [risk] max_gross_leverage, or None.

        The sum runs over every registered strategy, disabled ones too (they may be enabled at
        any time). A change that does not raise the sum is always allowed: lowering one target
        of a book already past the limit moves it towards the limit."""
        weights = {e.name: e.target_weight for e in self.registry}
        before = sum(weights.values())
        weights[name] = target
        total = sum(weights.values())
        limit = self.cfg.max_gross_leverage
        if total <= limit + config_mod.WEIGHT_EPSILON or \
                total <= before + config_mod.WEIGHT_EPSILON:
            return None
        return (f"target weights would sum to {total:.4g} across {len(weights)} strategies "
                f"({name} {target:g}), more than [risk] max_gross_leverage {limit:g}")

    def _check_leverage(self, name: str, target: float, force: bool) -> str | None:
        """Refuse a target past the leverage; with `force`, return the warning instead."""
        problem = self._leverage_problem(name, target)
        if problem is None:
            return None
        if not force:
            raise RequestError(Code.BAD_PARAMS, f"{problem}: lower another strategy's target "
                               "first, or pass --force")
        log.warning("operator forced %s's target weight %g: %s", name, target, problem)
        return problem

    def _venue(self, name: object) -> str:
        """A new strategy's venue as the registry keeps it: "" for [venue], else a [[venues]]
        name; one neither names is refused."""
        try:
            venue = self.cfg.venue_named(str(name) if name else None)
        except config_mod.ConfigError as exc:
            raise RequestError(Code.UNKNOWN_VENUE, str(exc)) from exc
        return "" if venue["name"] == self.cfg.venue["name"] else str(venue["name"])

    def _check_client_cap(self, names: list[str], venue: str = "") -> None:
        """Refuse strategies that would take their venue past IB's API clients per Gateway."""
        spec = self.cfg.venue_named(venue or None)
        problem = apiclients.refusal(apiclients.venue_name(self.cfg, spec),
                                     (e.client_id for e in self.registry if e.venue == venue),
                                     apiclients.system_client_ids(self.cfg, spec), names)
        if problem is not None:
            raise RequestError(Code.TOO_MANY_CLIENTS, problem)

    # -- lifecycle ----------------------------------------------------------------------------

    def _placement(self, host: object) -> str:
        """The registry's host of a new strategy: "" for this host; a joined host must have an
        agent on the bus."""
        name = str(host or "")
        if not self.remote.hosts.is_remote(name):
            return ""
        if not NAME_RE.match(name):
            raise RequestError(Code.BAD_NAME, f"bad host name {name!r}: use lowercase "
                               "letters, digits, '_' and '-'")
        now = time.time()
        if not self.remote.hosts.known(name) or self.remote.hosts.is_lost(name, now):
            raise RequestError(Code.HOST_LOST, self.remote.lost_text(name, now))
        return name

    async def m_start(self, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(params)
        if not entry.enabled:
            raise RequestError(Code.DISABLED,
                               f"strategy {entry.name!r} is disabled; `ats-ctl enable` it first")
        await self._refuse_unweighted(entry)
        status = (await self.refresh())[entry.name]
        if status["state"] in UP_STATES:
            raise RequestError(Code.ALREADY_RUNNING,
                               f"strategy {entry.name!r} is already running (pid {status['pid']})")
        if status["state"] in ("LOST", "WAITING_HOST"):
            raise RequestError(Code.HOST_LOST, f"cannot start {entry.name!r}: "
                               + self.remote.lost_text(entry.host, time.time()))
        self.registry.update(entry.name, desired="running")
        await self._start_program(entry)
        log.info("operator started %s", entry.name)
        return (await self.refresh())[entry.name]

    async def _start_program(self, entry: Entry) -> None:
        """Start its program: on this supervisord, or through its host's agent."""
        if self.remote.hosts.is_remote(entry.host):
            await self.remote.call(entry.host, "start", {"name": entry.name}, time.time())
            return
        crashloop.CrashRecord(crashloop.record_path(self.cfg.state_dir, entry.name)).clear()
        if self._write_section(entry.name):
            await self._sv(self.supervisor.load_programs)
        await self._sv(self.supervisor.start, sv.program_name(entry.name), True)

    async def _stop_program(self, entry: Entry) -> None:
        if self.remote.hosts.is_remote(entry.host):
            await self.remote.call(entry.host, "stop", {"name": entry.name}, time.time())
            return
        await self._sv(self.supervisor.stop, sv.program_name(entry.name), True)

    async def m_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(params)
        status = (await self.refresh())[entry.name]
        # Record the wish first: a crash between here and stopProcess must not revive it.
        self.registry.update(entry.name, desired="stopped")
        if status["state"] == "LOST":
            raise RequestError(Code.HOST_LOST, f"strategy {entry.name!r} is LOST with its host "
                               f"{entry.host!r}: recorded that it stays stopped; its host's "
                               "agent stops it when it returns")
        if status["state"] not in UP_STATES:
            raise RequestError(Code.NOT_RUNNING, f"strategy {entry.name!r} is not running "
                                                 f"({status['state']})")
        await self._stop_program(entry)
        log.info("operator stopped %s", entry.name)
        return (await self.refresh())[entry.name]

    async def m_restart(self, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(params)
        await self._refuse_unweighted(entry)
        self.registry.update(entry.name, desired="running")
        await self._stop_program(entry)
        await self._start_program(entry)
        return (await self.refresh())[entry.name]

    async def m_add(self, params: dict[str, Any]) -> dict[str, Any]:
        name, spec = params.get("name"), params.get("spec")
        if not isinstance(name, str) or not isinstance(spec, str):
            raise RequestError("BAD_REQUEST", "add needs 'name' and 'spec'")
        if name in RESERVED_NAMES:
            raise RequestError(Code.BAD_NAME, f"{name!r} is a reserved process name")
        registered = any(e.name == name for e in self.registry)  # the registry refuses it below
        venue = self._venue(params.get("venue"))
        if not registered:
            self._check_client_cap([name], venue)
        try:  # built in a throwaway process: the manager never imports a new file itself
            validated = await asyncio.to_thread(buildcheck.check, spec,
                                                dict(params.get("params") or {}))
        except buildcheck.BuildError as exc:
            raise RequestError(exc.code, exc.message) from exc
        host = self._placement(params.get("host"))
        target = float(params.get("target_weight", 0.0))
        warning = None if registered else \
            self._check_leverage(name, target, bool(params.get("force", False)))
        try:
            entry = self.registry.add(
                name, spec, params=validated, description=str(params.get("description", "")),
                target_weight=target,
                min_weight=float(params.get("min_weight", 0.0)),
                max_weight=float(params.get("max_weight", 1.0)),
                benchmark=str(params.get("benchmark") or ""), host=host, venue=venue,
            )
        except RegistryError as exc:
            raise RequestError(exc.code, exc.message) from exc
        if host:
            await self.remote.call(host, "sync", {"strategies": self._wanted(host)}, time.time())
        else:
            self._write_section(entry.name)
            await self._sv(self.supervisor.load_programs)
        log.info("registered %s (%s) clientId=%d on host %s", entry.name, entry.spec,
                 entry.client_id, self.remote.hosts.name(host))
        await self.refresh()
        return {**entry.to_dict(), **({"warning": warning} if warning else {})}

    async def m_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(params)
        if self.remote.hosts.is_remote(entry.host):
            try:
                await self.remote.call(entry.host, "remove", {"name": entry.name}, time.time())
            except RequestError as exc:
                if exc.code != Code.HOST_LOST:
                    raise
                log.warning("removing %s: %s; its host's agent drops it when it returns",
                            entry.name, exc.message)
            self.registry.remove(entry.name)
        else:
            await self._sv(self.supervisor.stop, sv.program_name(entry.name), True)
            self.registry.remove(entry.name)
            sv.remove_strategy_section(self.cfg.programs_dir, entry.name)
            await self._sv(self.supervisor.load_programs)
        await self.refresh()
        return {"name": entry.name, "removed": True, "client_id": entry.client_id}

    async def m_enable(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.registry.update(self._entry(params).name, enabled=True).to_dict()

    async def m_disable(self, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(params)
        status = (await self.refresh())[entry.name]
        if status["state"] in UP_STATES:
            await self._stop_program(entry)
        return self.registry.update(entry.name, enabled=False, desired="stopped").to_dict()

    async def m_set_weights(self, params: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(params)
        w = {k: float(params.get(k, getattr(entry, k)))
             for k in ("target_weight", "min_weight", "max_weight")}
        if not 0 <= w["min_weight"] <= w["target_weight"] <= w["max_weight"]:
            raise RequestError(Code.BAD_PARAMS, "weights must satisfy 0 <= min <= target <= max, "
                               f"got {w['min_weight']:g}/{w['target_weight']:g}/"
                               f"{w['max_weight']:g}")
        warning = self._check_leverage(entry.name, w["target_weight"],
                                       bool(params.get("force", False)))
        entry = self.registry.update(entry.name, **w)
        ack = await self._push_params(entry)
        return {"entry": entry.to_dict(), "ack": ack,
                **({"warning": warning} if warning else {})}

    async def m_set(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate and store new parameters, then push them to the running strategy."""
        entry = self._entry(params)
        changes = params.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise RequestError(Code.BAD_PARAMS, "set needs at least one key=value")
        merged = {**entry.params, **changes}
        validated = await asyncio.to_thread(_validate_spec, entry.spec, merged)
        entry = self.registry.update(entry.name, params=validated)
        log.info("params of %s changed: %s", entry.name, changes)
        ack = await self._push_params(entry)
        return {"name": entry.name, "params": entry.params, "ack": ack}

    async def _push_params(self, entry: Entry) -> dict[str, Any] | None:
        """Publish the new params to a running strategy and wait for its acknowledgement."""
        status = (await self.refresh())[entry.name]
        if status["state"] not in ("RUNNING", "ERRORING"):
            return None  # it reads the registry when it starts
        req = f"{entry.name}:{time.time_ns()}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[req] = fut
        self.publisher.publish(topics.params(entry.name), "params", {
            "req": req, "params": entry.params, "target_weight": entry.target_weight,
            "min_weight": entry.min_weight, "max_weight": entry.max_weight,
        })
        try:
            ack = await asyncio.wait_for(fut, PARAMS_ACK_TIMEOUT)
        except TimeoutError as exc:
            self._acks.pop(req, None)
            raise RequestError(Code.NO_ACK, f"{entry.name} stored the change but did not "
                               f"acknowledge it within {PARAMS_ACK_TIMEOUT:.0f}s") from exc
        if not ack.get("ok", False):
            raise RequestError(Code.BAD_PARAMS, f"{entry.name} refused: {ack.get('error')}")
        return ack

    # -- run --------------------------------------------------------------------------------

    def seed(self) -> None:
        """Register the configured seed strategies on the very first start.

        Each item is a builtin name ("ltmt") or a table {name, spec, params, target_weight,
        min_weight, max_weight, start}; weights left out are config.SEED_WEIGHTS. The config
        has already checked that their target weights fit [risk] max_gross_leverage. A seed that
        sizes by weight but has a target of 0 is registered and not started."""
        if self.registry.by_client_id():
            return
        for item in self.cfg.seed_strategies():
            name = str(item["name"])
            spec = str(item.get("spec", f"strategies.{name}"))
            try:
                venue = self._venue(item.get("venue"))
                self._check_client_cap([name], venue)
                validated = _validate_spec(spec, dict(item.get("params", {})))
                entry = self.registry.add(
                    name, spec, params=validated, description=str(item.get("description", "")),
                    target_weight=float(item["target_weight"]),
                    min_weight=float(item["min_weight"]),
                    max_weight=float(item["max_weight"]),
                    benchmark=str(item.get("benchmark", "")), venue=venue)
                if item.get("start", True):
                    if entry.target_weight <= 0 and _sizes_by_weight(spec):
                        log.error("seeded %s but not starting it: %s", name, _unweighted(name))
                    else:
                        self.registry.update(entry.name, desired="running")
                log.info("seeded strategy %s clientId=%d", name, entry.client_id)
            except (RequestError, RegistryError) as exc:
                log.error("cannot seed strategy %s: %s", name, exc)

    async def run(self) -> None:
        install_stop_handlers(self._stop)
        logging.getLogger().addHandler(BusLogHandler(self.publisher, "manager"))
        self.seed()
        heartbeater = Heartbeater(self.publisher, "manager")
        tasks = [
            asyncio.create_task(self.service.run(), name="service"),
            asyncio.create_task(self.watch_bus(), name="bus"),
            asyncio.create_task(heartbeater.run(), name="heartbeat"),
            asyncio.create_task(self.remote.run(), name="agents"),
        ]
        for attempt in range(50):
            try:
                await self.sync_programs()
                break
            except RequestError as exc:
                log.warning("waiting for supervisord (%s)", exc.message)
                await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
        tasks.append(asyncio.create_task(self.health_loop(), name="health"))
        tasks.append(asyncio.create_task(
            self.stats.run(lambda: self.programs.values(), self.hb_info, self._stop),
            name="stats"))
        log.info("manager up (pid %d): %d strategies", os.getpid(), len(list(self.registry)))
        await self._stop.wait()
        self.service.stop()
        self.remote.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.publisher.close()
        self._sv_pool.shutdown(wait=False)
        log.info("manager stopped")


def main(argv: list[str] | None = None) -> None:
    service_main("ats-manager", __doc__, Manager, argv)
