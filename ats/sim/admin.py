"""Fault-injection control: JSON lines over loopback TCP.

Request: {"cmd": "<command>", "args": {...}}. Reply: {"ok": true, ...} or
{"ok": false, "errno": N, "error": "..."}. Commands: drop_client(client_id),
outage(seconds, data_lost), farm_disconnect(seconds), delay_acks(ms), hold_acks(),
release_acks(), reject_next_order(reason), nightly_restart(), status(),
executions(all_versions=false): each trade at its latest correction,
correct_execution(exec_id, price, shares, commission): an IB execution correction (the same
execId prefix, the next correction number) with the new price and/or shares, sent like a fill
and booked by the account in place of the earlier version.
advance(to | seconds): a stepped clock (`--clock stepped`) moves to the ISO 8601 instant `to`
or `seconds` on, sending every bar that completes on the way in time order (each real-time bar
covering `bar_seconds`, default 5), and replies
{"sim_time", "bars"} once they are all handed to the clients (ats/sim/stepping.py).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ats.sim import faults, stepping
from ats.sim.clock import parse_start
from ats.sim.fastbars import SECONDS
from ats.sim.orders import latest_versions

if TYPE_CHECKING:
    from ats.sim.server import Server

log = logging.getLogger("ats.sim.admin")


class AdminErrno:
    BAD_REQUEST = 1  #: not JSON, or no "cmd"
    UNKNOWN_COMMAND = 2
    BAD_ARGUMENTS = 3
    NOT_FOUND = 4
    NOT_STEPPED = 5  #: advance asked of a clock that runs on its own


class AdminError(Exception):
    def __init__(self, errno: int, message: str) -> None:
        super().__init__(f"[{errno}] {message}")
        self.errno = errno
        self.message = message


def _drop_client(srv: Server, client_id: int) -> dict[str, Any]:
    if not faults.drop_client(srv, int(client_id)):
        raise AdminError(AdminErrno.NOT_FOUND, f"client {client_id} is not connected")
    return {}


def _outage(srv: Server, seconds: float, data_lost: bool = False) -> dict[str, Any]:
    asyncio.get_running_loop().create_task(faults.outage(srv, float(seconds), bool(data_lost)))
    return {}


def _farm_disconnect(srv: Server, seconds: float) -> dict[str, Any]:
    asyncio.get_running_loop().create_task(faults.farm_disconnect(srv, float(seconds)))
    return {}


def _delay_acks(srv: Server, ms: float) -> dict[str, Any]:
    srv.ack_delay = max(float(ms), 0.0) / 1000.0
    return {}


def _hold_acks(srv: Server) -> dict[str, Any]:
    """Take no order or cancel until release_acks: an order stays in flight for as long as a
    test needs, however slow the machine."""
    if srv.held_acks is None:
        srv.held_acks = []
    return {}


def _release_acks(srv: Server) -> dict[str, Any]:
    return {"released": srv.release_acks()}


def _reject_next_order(srv: Server, reason: str = "rejected by admin") -> dict[str, Any]:
    srv.venue.reject_next = str(reason)
    return {}


def _nightly_restart(srv: Server) -> dict[str, Any]:
    log.warning("nightly restart: dropping every client")
    return {"dropped": faults.drop_all(srv)}


def _status(srv: Server) -> dict[str, Any]:
    return srv.status()


def _executions(srv: Server, all_versions: bool = False) -> dict[str, Any]:
    """Each trade at its latest correction, or every version sent (as reqExecutions gives)."""
    out = []
    for e in srv.venue.executions if all_versions else latest_versions(srv.venue.executions):
        d = e.to_json()
        inst = srv.venue.instrument(e.con_id)
        d["symbol"] = inst.symbol if inst else ""
        out.append(d)
    return {"executions": out}


def _correct_execution(srv: Server, exec_id: str, price: float | None = None,
                       shares: float | None = None,
                       commission: float | None = None) -> dict[str, Any]:
    try:
        e = srv.venue.correct_execution(str(exec_id), price, shares, commission)
    except KeyError as exc:
        raise AdminError(AdminErrno.NOT_FOUND, str(exc.args[0])) from None
    return {"execution": e.to_json()}


async def _advance(srv: Server, to: str | None = None, seconds: float | None = None,
                   bar_seconds: int = SECONDS) -> dict[str, Any]:
    if (to is None) == (seconds is None):
        raise ValueError("advance takes one of to (ISO 8601) or seconds")
    now = srv.clock.timestamp()
    target = parse_start(str(to)).timestamp() if to is not None else now + float(seconds or 0)
    if seconds is not None and float(seconds) <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    try:
        sent = await stepping.advance(srv, target, int(bar_seconds))
    except stepping.NotStepped as exc:
        raise AdminError(AdminErrno.NOT_STEPPED, str(exc)) from None
    return {"sim_time": srv.clock.now().isoformat(), "bars": sent}


COMMANDS: dict[str, Callable[..., Any]] = {
    "drop_client": _drop_client,
    "outage": _outage,
    "farm_disconnect": _farm_disconnect,
    "delay_acks": _delay_acks,
    "hold_acks": _hold_acks,
    "release_acks": _release_acks,
    "reject_next_order": _reject_next_order,
    "nightly_restart": _nightly_restart,
    "status": _status,
    "executions": _executions,
    "correct_execution": _correct_execution,
    "advance": _advance,
}


async def execute(srv: Server, line: bytes) -> dict[str, Any]:
    try:
        req = json.loads(line)
        cmd = req["cmd"]
        args = req.get("args") or {}
        if not isinstance(args, dict):
            raise TypeError("args must be an object")
    except (ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "errno": AdminErrno.BAD_REQUEST, "error": str(exc)}
    fn = COMMANDS.get(cmd)
    if fn is None:
        return {"ok": False, "errno": AdminErrno.UNKNOWN_COMMAND, "error": f"unknown {cmd!r}"}
    log.info("admin command %s %s", cmd, args)
    try:
        result = fn(srv, **args)
        if inspect.isawaitable(result):
            result = await result
    except AdminError as exc:
        return {"ok": False, "errno": exc.errno, "error": exc.message}
    except (TypeError, ValueError) as exc:
        return {"ok": False, "errno": AdminErrno.BAD_ARGUMENTS, "error": str(exc)}
    return {"ok": True, **result}


async def serve(srv: Server, host: str, port: int) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(await execute(srv, line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=1 << 20)


class AdminClient:
    """Blocking client: `AdminClient(host, port).call("outage", seconds=2)`."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def call(self, command: str, **args: Any) -> dict[str, Any]:
        with socket.create_connection((self.host, self.port), self.timeout) as sock:
            sock.sendall(json.dumps({"cmd": command, "args": args}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
        reply: dict[str, Any] = json.loads(buf)
        if not reply.get("ok"):
            raise AdminError(int(reply.get("errno", 0)), str(reply.get("error")))
        return reply
