"""`ats-gateway-sim`: run the simulator, or send it an admin command."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
from pathlib import Path

import click

from ats.processes import install_stop_handlers
from ats.sim import admin
from ats.sim.clock import CLOCK_MODES, initial_start, parse_start
from ats.sim.server import Config, Server

log = logging.getLogger("ats.sim.cli")


async def _run(config: Config, arctic: str | None, replay_lib: str, clock_note: str) -> None:
    server = Server(config)
    if arctic:
        from ats.sim.replay import load_overrides

        n = load_overrides(server.market, arctic, replay_lib)
        log.warning("market: stored bars, %d series from %s/%s replayed; each continues on "
                    "its synthetic path (seed %s) past its last stored bar", n, arctic,
                    replay_lib, config.seed)
    else:
        log.warning("market: synthetic, seed %s", config.seed)
    log.warning("%s", clock_note)
    await server.start()
    admin_port = config.admin_port if config.admin_port is not None else server.port + 1
    admin_server = await admin.serve(server, config.host, admin_port)
    admin_port = int(admin_server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    print(f"ats-gateway-sim listening on {config.host}:{server.port} admin "
          f"{config.host}:{admin_port}", flush=True)
    log.info("listening on %s:%s admin %s seed=%s speed=%s", config.host, server.port,
             admin_port, config.seed, config.speed)
    stop = asyncio.Event()
    install_stop_handlers(stop)  # SIGTERM, SIGINT, or supervisord gone
    await stop.wait()
    log.info("stopping")
    admin_server.close()
    await server.stop()
    log.info("stopped; state saved")


class _SimGroup(click.Group):
    """Runs the simulator unless the first argument names a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["serve", *args])


@click.group(cls=_SimGroup)
def main() -> None:
    """TWS API gateway simulator."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=4002, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--state", "state_path", type=click.Path(path_type=Path), default=None)
@click.option("--speed", type=float, default=1.0, show_default=True)
@click.option("--accounts", default="DU0000001", show_default=True)
@click.option("--master-client-id", type=int, default=0, show_default=True)
@click.option("--max-msg-rate", type=int, default=50, show_default=True,
              help="messages/s per client before error 100 (0: unlimited)")
@click.option("--admin-port", type=int, default=None, help="default: port + 1 (0: free)")
@click.option("--start", default=None, help="sim start time, ISO 8601 (default: see --clock)")
@click.option("--clock", "clock_mode", type=click.Choice(CLOCK_MODES), default="wall",
              show_default=True, help="without --start: 'wall' starts now; 'session' starts "
              "in the most recent New York session when the market is closed; 'stepped' "
              "stands still (at --start, else now) until the admin command advance moves it")
@click.option("--cash", type=float, default=1_000_000.0, show_default=True)
@click.option("--check-funds", is_flag=True, help="reject orders beyond available funds")
@click.option("--history-pacing/--no-history-pacing", default=True, show_default=True,
              help="error 162 for historical requests that break IB's pacing rules")
@click.option("--arctic", default=None, help="ArcticDB URI with bars to replay")
@click.option("--replay-lib", default="market_data", show_default=True)
@click.option("--log-level", default="INFO", show_default=True)
def serve(host: str, port: int, seed: int, state_path: Path | None, speed: float,
          accounts: str, master_client_id: int, max_msg_rate: int, admin_port: int | None,
          start: str | None, clock_mode: str, cash: float, check_funds: bool,
          history_pacing: bool, arctic: str | None, replay_lib: str, log_level: str) -> None:
    """Run the simulator."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if start:
        begin: dt.datetime | None = parse_start(start)
        note = f"clock: pinned, starts at {begin:%a %Y-%m-%d %H:%M} UTC"
    else:
        begin, note = initial_start(clock_mode, dt.datetime.now(dt.UTC))
    if clock_mode == "stepped":
        note += "; stepped: time stands still until the admin command advance moves it"
    config = Config(
        host=host, port=port, admin_port=admin_port, seed=seed, speed=speed, start=begin,
        accounts=[a.strip() for a in accounts.split(",") if a.strip()], cash=cash,
        master_client_id=master_client_id, max_msg_rate=max_msg_rate,
        state_path=state_path, check_funds=check_funds, history_pacing=history_pacing,
        stepped=clock_mode == "stepped",
    )
    asyncio.run(_run(config, arctic, replay_lib, note))


@main.command("admin")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True)
@click.argument("command")
@click.argument("args", nargs=-1)
def admin_command(host: str, port: int, command: str, args: tuple[str, ...]) -> None:
    """Send COMMAND with key=value ARGS (values parsed as JSON when they can be)."""
    kwargs: dict[str, object] = {}
    for arg in args:
        key, _, value = arg.partition("=")
        try:
            kwargs[key] = json.loads(value)
        except ValueError:
            kwargs[key] = value
    try:
        reply = admin.AdminClient(host, port).call(command, **kwargs)
    except admin.AdminError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: cannot reach admin port {host}:{port}: {exc}", err=True)
        sys.exit(3)
    click.echo(json.dumps(reply, indent=2))


if __name__ == "__main__":
    main()
