"""`ats-ctl init --join`: a home for a second host, which runs only ats-agent (and the
strategies the manager places there) under its own supervisord, on the main host's bus with
CURVE and its own key pair."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ats import buskeys
from ats import config as config_mod
from ats.manager.supervisor import UNREACHABLE_ERRORS, Supervisor
from bus import security
from bus.endpoints import is_loopback

#: the supervisord program of a joined host's agent (deploy/agent-supervisord.conf)
AGENT_PROGRAM = "agent"


class JoinError(Exception):
    """Bad input to `init --join`: the message is one line for the operator."""


@dataclass(frozen=True)
class Joined:
    cfg: config_mod.Config
    public_key: Path  #: this host's public key, to be allowed on the main host


def parse_join(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` (the main host's [bus] host and base_port) as (host, port)."""
    scheme, sep, address = url.partition("://")
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if scheme != "tcp" or not sep or not host or not port.isdigit() \
            or not 0 < int(port) < 65536:
        raise JoinError(f"--join wants tcp://HOST:PORT (the main host's [bus] host and "
                        f"base_port), got {url!r}")
    return host, int(port)


def overrides(bus_host: str, base_port: int, host_name: str,
              venue: str | None) -> dict[str, Any]:
    """The joined home's ats.toml: the main host's bus with CURVE, the Gateway at ``venue``
    (HOST:PORT; default the main host's address and the default port), this host's name."""
    venue_host, venue_port = bus_host, int(config_mod.DEFAULTS["venue"]["port"])
    if venue:
        vhost, _, vport = venue.rpartition(":")
        if not vhost or not vport.isdigit():
            raise JoinError(f"--gateway wants HOST:PORT, got {venue!r}")
        venue_host, venue_port = vhost.strip("[]"), int(vport)
    return {
        "bus": {"transport": "tcp", "host": bus_host, "base_port": base_port, "curve": True,
                "allow_remote": not is_loopback(bus_host)},
        "venue": {"host": venue_host, "port": venue_port},
        "hosts": {"name": host_name, "role": "agent"},
        "manager": {"seed_strategies": []},
    }


def join(home: Path, url: str, hub_key: Path, host_name: str,
         venue: str | None = None) -> Joined:
    """Create the joined home: its ats.toml, the hub's public key as ``server.key``, a key pair
    of its own (``local``, 0600) and a copy of its public key, ``<host>.key``, in the home."""
    if (home / config_mod.CONFIG_FILE).exists():
        raise JoinError(f"{home} already holds {config_mod.CONFIG_FILE}: join from a new home")
    try:
        server_public = security.load_public(hub_key)
    except security.SecurityError as exc:
        raise JoinError(f"--hub-key: {exc} (the main host's state/keys/server.key)") from exc
    bus_host, port = parse_join(url)
    try:
        cfg = config_mod.init_home(home, overrides(bus_host, port, host_name, venue))
    except config_mod.ConfigError as exc:
        raise JoinError(str(exc)) from exc
    folder = buskeys.keys_dir(cfg)
    security.write_public(folder / f"{buskeys.SERVER}{security.PUBLIC_SUFFIX}", server_public)
    public, _ = security.generate(folder, buskeys.LOCAL)
    exported = security.write_public(cfg.home / f"{host_name}{security.PUBLIC_SUFFIX}",
                                     security.load_public(public))
    return Joined(cfg, exported)


def instructions(joined: Joined) -> str:
    cfg, name = joined.cfg, str(joined.cfg.section("hosts")["name"])
    bus = cfg.section("bus")
    return "\n".join([
        f"joined tcp://{bus['host']}:{bus['base_port']} as host {name!r} (home {cfg.home}).",
        "On the main host:",
        f"  1. copy {joined.public_key} there and let it in: `ats-ctl keys allow {name}.key`;",
        "  2. its [bus] must be tcp with curve = true, host the address this host reaches it "
        "at (allow_remote = true beyond loopback).",
        f"Here: `ats-ctl up` starts the agent; then, on the main host, `ats-ctl add FILE.py "
        f"--host {name}` places a strategy on this host.",
        f"[venue] points at {cfg.venue['host']}:{cfg.venue['port']}; when the main host runs "
        "the simulator, copy its [sim] table into this home's ats.toml.",
    ])


def wait_agent(cfg: config_mod.Config, timeout: float) -> str | None:
    """Wait until this supervisord runs the agent; its ready line, or None."""
    deadline = time.monotonic() + timeout
    sv = Supervisor(cfg.supervisor_socket)
    while time.monotonic() < deadline:
        try:
            if sv.rpc.getProcessInfo(AGENT_PROGRAM)["statename"] == "RUNNING":
                return (f"the agent of host {cfg.section('hosts')['name']} is up (home "
                        f"{cfg.home}); it dials {cfg.endpoints.agents}")
        except UNREACHABLE_ERRORS:
            pass
        time.sleep(0.3)
    return None
