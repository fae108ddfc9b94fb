"""The home's CURVE keys for the bus ([bus] curve = true) and their use by each process.

``state/keys`` (0700) holds key pairs as ZeroMQ certificates, 0600 each:

- ``server``: the hub's, the manager's and the broker's (the sockets that bind);
- ``local``: every process of this home as a client (hosts, ats-ctl, web, alerts, ...);
- any other ``NAME``: made by ``ats-ctl keys generate NAME`` for a peer elsewhere.

``state/keys/allowed/NAME.key`` are the public keys let in (``ats-ctl keys allow|revoke``);
``local`` is allowed when the home's keys are made. Secret keys stay in these files: they are
never published, logged or stored in ArcticDB.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from ats.config import Config
from bus import security, topics
from bus.publisher import Publisher
from bus.security import Curve, Refusal, SecurityError

log = logging.getLogger(__name__)

SERVER = "server"
LOCAL = "local"
ALLOWED = "allowed"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
#: the processes that bind a bus socket (and so check clients' keys)
SERVERS = frozenset({"bus", "manager", "broker"})


@dataclass(frozen=True)
class KeyInfo:
    name: str
    public: str  #: Z85
    secret: bool  #: a secret key is in this folder
    allowed: bool


def keys_dir(cfg: Config) -> Path:
    folder = cfg.keys_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name == ALLOWED:
        raise SecurityError(f"bad key name {name!r}: letters, digits, '_', '.', '-'")
    return name


def generate_home(cfg: Config) -> list[str]:
    """Make the server and local pairs where missing and allow local; the names made."""
    folder, made = keys_dir(cfg), []
    for name in (SERVER, LOCAL):
        if not (folder / f"{name}{security.SECRET_SUFFIX}").exists():
            security.generate(folder, name)
            made.append(name)
    if LOCAL in made or not (folder / ALLOWED / f"{LOCAL}{security.PUBLIC_SUFFIX}").exists():
        allow(cfg, LOCAL)
    return made


def generate(cfg: Config, name: str) -> Path:
    """A new key pair NAME (not allowed yet); refuses to overwrite one."""
    folder = keys_dir(cfg)
    if (folder / f"{check_name(name)}{security.SECRET_SUFFIX}").exists():
        raise SecurityError(f"key pair {name!r} already exists in {folder}")
    return security.generate(folder, name)[1]


def allow(cfg: Config, name_or_file: str) -> str:
    """Let in a key: a pair's NAME in the key folder, or a public key file from elsewhere
    (only its public key is copied). Returns the allowed name."""
    folder = keys_dir(cfg)
    path = Path(name_or_file)
    if path.suffix in (security.PUBLIC_SUFFIX, security.SECRET_SUFFIX) and path.exists():
        name = check_name(path.name.split(".key")[0])
    else:
        name, path = check_name(name_or_file), folder / f"{name_or_file}{security.PUBLIC_SUFFIX}"
        if not path.exists():
            raise SecurityError(f"no key {name!r} in {folder} (and no such key file)")
    allowed = folder / ALLOWED
    allowed.mkdir(mode=0o700, exist_ok=True)
    security.write_public(allowed / f"{name}{security.PUBLIC_SUFFIX}", security.load_public(path))
    return name


def revoke(cfg: Config, name: str) -> None:
    """Stop letting NAME in (new connections; one already open lasts until it reconnects)."""
    if name == LOCAL:
        raise SecurityError("'local' is this home's own key: revoking it would cut every "
                            "process of this home off the bus")
    path = keys_dir(cfg) / ALLOWED / f"{check_name(name)}{security.PUBLIC_SUFFIX}"
    if not path.exists():
        raise SecurityError(f"key {name!r} is not allowed")
    path.unlink()


def listing(cfg: Config) -> list[KeyInfo]:
    folder = keys_dir(cfg)
    allowed = {p.stem: security.load_public(p).decode()
               for p in (folder / ALLOWED).glob(f"*{security.PUBLIC_SUFFIX}")}
    rows = {p.stem: KeyInfo(p.stem, security.load_public(p).decode(),
                            (folder / f"{p.stem}{security.SECRET_SUFFIX}").exists(),
                            p.stem in allowed)
            for p in folder.glob(f"*{security.PUBLIC_SUFFIX}")}
    for name, public in allowed.items():
        rows.setdefault(name, KeyInfo(name, public, False, True))
    return [rows[n] for n in sorted(rows)]


def curve_of(cfg: Config, on_refused: Callable[[Refusal], None] | None = None,
             *, serve: bool = False, own: str = LOCAL) -> Curve:
    """This home's CURVE settings: the ``own`` pair as a client, and for a process that
    binds (``serve``), the server pair and the allow-list."""
    folder = cfg.keys_dir
    try:
        pair = security.load_pair(folder / f"{own}{security.SECRET_SUFFIX}")
        server_public = security.load_public(folder / f"{SERVER}{security.PUBLIC_SUFFIX}")
        server = security.load_pair(folder / f"{SERVER}{security.SECRET_SUFFIX}") \
            if serve else None
    except SecurityError as exc:
        raise SecurityError(f"[bus] curve is on but {exc}; run `ats-ctl keys generate`") \
            from exc
    return Curve(pair, server_public, server, folder / ALLOWED if serve else None, on_refused)


class RefusalAlerts:
    """Publishes each reported refusal as a WARNING on alert.<process> (from a publisher of
    its own, made at start so that it is connected when the first refusal comes)."""

    def __init__(self, cfg: Config, process: str) -> None:
        self.process = process
        self._ctx: zmq.Context[Any] = zmq.Context()
        self.publisher = Publisher(self._ctx, cfg.endpoints.publish, f"{process}-curve")

    def close(self) -> None:
        self.publisher.close()
        self._ctx.term()

    def __call__(self, refusal: Refusal) -> None:
        times = f" ({refusal.count} attempts)" if refusal.count > 1 else ""
        self.publisher.publish(topics.alert(self.process), "alert", {
            "level": "WARNING", "kind": "curve_refused", "key": refusal.key,
            "address": refusal.address,
            "message": f"refused a bus peer at {refusal.address or '?'}: its "
                       f"CURVE public key {refusal.key} is not allowed{times}"})


_alerts: RefusalAlerts | None = None  #: this process's, when it binds bus sockets


def use(cfg: Config, process: str) -> Curve | None:
    """Secure every bus socket of this process when [bus] curve is on (once, at start)."""
    close()
    if not cfg.curve:
        return None
    serve = process in SERVERS
    # the refusal publisher is itself a bus client: configure the client side first
    security.configure(curve_of(cfg))
    if serve:
        global _alerts
        _alerts = RefusalAlerts(cfg, process)
    curve = curve_of(cfg, _alerts, serve=serve)
    security.configure(curve)
    return curve


def close() -> None:
    """Plain sockets from now on; the authenticators and the refusal publisher stopped."""
    global _alerts
    security.configure(None)
    security.close()
    if _alerts is not None:
        _alerts.close()
        _alerts = None
