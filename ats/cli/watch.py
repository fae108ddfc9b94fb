"""ats-ctl tail | repl: watch the live bus."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click
import zmq

from ats.cli.context import Ctl, pass_ctl
from bus import topics
from bus.client import Requester
from bus.codec import Envelope
from bus.errors import RequestError
from bus.subscriber import SyncSubscriber


def _compact(body: Any, limit: int = 160) -> str:
    text = json.dumps(body, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(topic: str, env: Envelope) -> str:
    stamp = dt.datetime.fromtimestamp(env.ts).strftime("%H:%M:%S.%f")[:-3]
    body = env.body
    if env.type == "clone":
        value = body.get("value")
        body = {"op": body.get("op"), "key": body.get("key"),
                **(value if isinstance(value, dict) else {"value": value})}
    return f"{stamp}  {topic:<24} {env.type:<10} {env.source}#{env.seq:<6} {_compact(body)}"


def _snapshot_lines(ctl: Ctl, zctx: zmq.Context[Any]) -> list[str]:
    lines = []
    for service, method in (("manager", "snapshot"), ("broker", "snapshot_positions"),
                            ("broker", "snapshot_pnl")):
        req = Requester(zctx, getattr(ctl.cfg.endpoints, service), timeout=2.0)
        try:
            snap = req.request(method, {})
        except RequestError as exc:
            lines.append(f"-- {service}.{method}: unavailable ({exc.message})")
            continue
        finally:
            req.close()
        lines.append(f"-- {service}.{method} at seq {snap['seq']}:")
        for key, value in sorted(snap["state"].items()):
            lines.append(f"   {key}: {_compact(value)}")
    return lines


@click.command()
@click.option("--topic", "prefix", default="", help="Only topics with this prefix, e.g. fill.")
@click.option("--heartbeats/--no-heartbeats", default=False,
              help="Show hb.* and stats.* messages.")
@click.option("--count", type=int, default=0, help="Stop after this many messages.")
@click.option("--snapshot/--no-snapshot", default=True, help="Print the current state first.")
@pass_ctl
def tail(ctl: Ctl, prefix: str, heartbeats: bool, count: int, snapshot: bool) -> None:
    """Follow the live bus, human-readable (Ctrl-C to stop)."""
    zctx: zmq.Context[Any] = zmq.Context()
    sub = SyncSubscriber(zctx, ctl.cfg.endpoints.subscribe, [prefix])
    time.sleep(0.2)  # let the subscription reach the hub before the snapshot is taken
    if snapshot:
        for line in _snapshot_lines(ctl, zctx):
            click.echo(line)
        click.echo("-- live:")
    seen = 0
    try:
        while not count or seen < count:
            msg = sub.recv(timeout=1.0)
            if msg is None:
                continue
            topic, env = msg
            if env.type in ("hb", "stats") and not heartbeats:
                continue
            click.echo(describe(topic, env))
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        if sub.gaps:
            click.echo(f"-- {len(sub.gaps)} sequence gaps seen: {sub.gaps[:5]}", err=True)


BANNER = """ats live REPL (home {home})
  live.frame('strategies' | 'positions' | 'pnl' | 'orders' | 'account') -> DataFrame
  strategies(), positions(), pnl(), orders(), fills(), events(n)   current state
  start(name), stop(name), restart(name), set(name, key=value), status()
  call(service, method, **params)                                   any control method
"""


@click.command()
@pass_ctl
def repl(ctl: Ctl) -> None:
    """An interactive Python with a live subscriber (IPython if installed)."""
    import pandas as pd

    from ats.cli.live import LiveState

    live = LiveState(ctl.cfg.endpoints).start()
    zctx: zmq.Context[Any] = zmq.Context()

    def call(service: str, method: str, **params: Any) -> Any:
        req = Requester(zctx, getattr(ctl.cfg.endpoints, service), timeout=15.0)
        try:
            return req.request(method, params)
        finally:
            req.close()

    namespace: dict[str, Any] = {
        "live": live, "pd": pd, "call": call, "topics": topics,
        "strategies": lambda: live.frame("strategies"),
        "positions": lambda: live.frame("positions"),
        "pnl": lambda: live.frame("pnl"),
        "orders": lambda: live.frame("orders"),
        "fills": lambda: pd.DataFrame(list(live.fills.values())),
        "events": lambda n=20: [describe(t, e) for t, e in list(live.events)[-n:]],
        "status": lambda: pd.DataFrame(call("manager", "status")),
        "start": lambda name: call("manager", "start", name=name),
        "stop": lambda name: call("manager", "stop", name=name),
        "restart": lambda name: call("manager", "restart", name=name),
        "set": lambda name, **kv: call("manager", "set", name=name, changes=kv),
    }
    banner = BANNER.format(home=ctl.cfg.home)
    try:
        from IPython import start_ipython

        click.echo(banner)
        start_ipython(argv=[], user_ns=namespace)
    except ImportError:
        import code

        code.interact(banner=banner, local=namespace)


COMMANDS = [tail, repl]
