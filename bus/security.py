"""CURVE security for the bus's sockets: key files, server and client setup, a ZAP
authenticator with a reloadable allow-list of client public keys.

Key files are ZeroMQ certificates (``zmq.auth.create_certificates``): ``NAME.key`` holds the
public key, ``NAME.key_secret`` both keys; both are written 0600. A process that uses CURVE
calls ``configure(Curve(...))`` once at start; from then on every bus socket it makes
(``Publisher``, the subscribers, the requesters, ``Service``, ``Hub``) is secured through
``secure_client`` / ``secure_server``. Without ``configure`` (the default) nothing changes.

A server socket gets a ZAP authenticator on its context (one per context). It accepts a client
whose public key is in the allow-list folder (``*.key`` files, re-read when the folder
changes, so ``allow`` and ``revoke`` take effect at the next handshake) and refuses any other:
the refused peer gets nothing, not even an error reply. Each refusal is logged and passed to
``Curve.on_refused`` (the first of a key at once, then at most once per REFUSAL_REPEAT_SECONDS
with the count, since a refused client reconnects every 100 ms). A session that was already
open when its key was revoked lasts until it reconnects: restart the server to cut it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from bus.errors import BusError

log = logging.getLogger(__name__)

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
KEY_FILE_MODE = 0o600
#: a refused key is reported again at most this often (with how many refusals it stands for)
REFUSAL_REPEAT_SECONDS = 60.0


class SecurityError(BusError):
    """A key file is missing or unreadable, or CURVE is asked of a socket without its keys."""


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair, both keys Z85-encoded (40 bytes each)."""

    public: bytes
    secret: bytes


@dataclass(frozen=True)
class Refusal:
    """One refused handshake (or several of one key, ``count`` of them)."""

    key: str  #: the client's public key, Z85
    address: str  #: the peer's IP address as ZAP reports it
    reason: str
    count: int = 1


def generate(folder: Path, name: str) -> tuple[Path, Path]:
    """Write the key pair ``name`` into ``folder`` (0700); return (public, secret) paths."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(folder, name)
    for path in (public, secret):
        os.chmod(path, KEY_FILE_MODE)
    return Path(public), Path(secret)


def write_public(path: Path, public: bytes) -> Path:
    """A public-key file (0600) holding only ``public``, never a secret."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
    with os.fdopen(fd, "w") as f:
        f.write(f'metadata\ncurve\n    public-key = "{public.decode()}"\n')
    os.chmod(path, KEY_FILE_MODE)
    return path


def load_public(path: Path) -> bytes:
    """The public key of a ``.key`` or ``.key_secret`` file."""
    if not path.is_file():
        raise SecurityError(f"no CURVE key file {path}")
    try:
        public, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise SecurityError(f"cannot read CURVE key {path}: {exc}") from exc
    return public


def load_pair(secret_file: Path) -> KeyPair:
    """The key pair of a ``.key_secret`` file."""
    if not secret_file.is_file():
        raise SecurityError(f"no CURVE key pair file {secret_file}")
    try:
        public, secret = zmq.auth.load_certificate(secret_file)
    except (OSError, ValueError) as exc:
        raise SecurityError(f"cannot read CURVE key pair {secret_file}: {exc}") from exc
    if secret is None:
        raise SecurityError(f"{secret_file} holds no secret key")
    return KeyPair(public, secret)


class AllowList:
    """The public keys of the ``*.key`` files in ``folder``, re-read when the folder changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[bytes, str] = {}  #: Z85 public key -> the file's name
        self._lock = threading.Lock()

    def _current(self) -> dict[bytes, str]:
        try:
            st = self.folder.stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return {}
        with self._lock:
            if stamp != self._stamp:
                keys: dict[bytes, str] = {}
                for path in sorted(self.folder.glob(f"*{PUBLIC_SUFFIX}")):
                    try:
                        keys[load_public(path)] = path.stem
                    except SecurityError as exc:
                        log.error("%s", exc)
                self._keys, self._stamp = keys, stamp
            return self._keys

    def name_of(self, key: bytes) -> str | None:
        """The allowed key's name, or None when ``key`` (Z85) is not allowed."""
        return self._current().get(key)

    def __contains__(self, key: bytes) -> bool:
        return self.name_of(key) is not None


@dataclass(frozen=True)
class Curve:
    """One process's CURVE settings: its own pair (to connect), the servers' public key, and
    in a process that binds, the server pair and the allow-list folder."""

    own: KeyPair
    server_public: bytes
    server: KeyPair | None = None
    allowed: Path | None = None
    on_refused: Callable[[Refusal], None] | None = None


class Authenticator(ThreadAuthenticator):
    """ZAP handler of one context: CURVE clients in the allow-list pass, others are refused."""

    def __init__(self, context: zmq.Context[Any], allow: AllowList,
                 on_refused: Callable[[Refusal], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(context, log=log)
        self.allow_list = allow
        self.on_refused = on_refused
        self.refused = 0
        self._clock = clock
        self._address = ""
        self._last: dict[str, tuple[float, int]] = {}  #: key -> (last reported, held since)
        self.configure_curve_callback("*", credentials_provider=self)

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        # the callback below is told only the key; ZAP's 4th frame is the peer's address
        self._address = msg[3].decode(errors="replace") if len(msg) > 3 else ""
        await super().handle_zap_message(msg)

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials-provider hook: is the Z85 ``key`` allowed?"""
        if key in self.allow_list:
            return True
        self.refused += 1
        self._refuse(Refusal(key.decode(errors="replace"), self._address, "key not allowed"))
        return False

    def _refuse(self, refusal: Refusal) -> None:
        now = self._clock()
        last, held = self._last.get(refusal.key, (None, 0))
        if last is not None and now - last < REFUSAL_REPEAT_SECONDS:
            self._last[refusal.key] = (last, held + 1)
            return
        self._last[refusal.key] = (now, 0)
        refusal = Refusal(refusal.key, refusal.address, refusal.reason, held + 1)
        log.warning("refused a CURVE peer at %s: public key %s is not allowed%s",
                    refusal.address or "?", refusal.key,
                    f" ({refusal.count} attempts)" if refusal.count > 1 else "")
        if self.on_refused is not None:
            try:
                self.on_refused(refusal)
            except Exception:
                log.exception("the refusal callback failed")


_active: Curve | None = None
_authenticators: dict[int, Authenticator] = {}  #: the context's address -> its authenticator
_lock = threading.Lock()


def configure(curve: Curve | None) -> None:
    """Secure every bus socket this process makes from now on (None: plain sockets)."""
    global _active
    _active = curve


def active() -> Curve | None:
    return _active


def secure_client(sock: zmq.Socket[Any], curve: Curve | None = None) -> None:
    """Before ``connect``: authenticate as ``curve.own`` (default: the configured one) to a
    server holding ``curve.server_public``. A no-op without CURVE."""
    curve = curve or _active
    if curve is None:
        return
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.own.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.own.public)
    sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server_public)


def secure_server(sock: zmq.Socket[Any], curve: Curve | None = None) -> None:
    """Before ``bind``: serve CURVE with the server pair, clients checked against the
    allow-list by the context's authenticator (started here once). A no-op without CURVE."""
    curve = curve or _active
    if curve is None:
        return
    if curve.server is None or curve.allowed is None:
        raise SecurityError("this process has no CURVE server key pair or allow-list")
    authenticator(sock.context, curve)
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.server.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.server.public)
    sock.setsockopt(zmq.CURVE_SERVER, 1)


def authenticator(ctx: zmq.Context[Any], curve: Curve) -> Authenticator:
    """The running authenticator of ``ctx`` (an asyncio context shares its sync shadow's)."""
    assert curve.allowed is not None
    with _lock:
        auth = _authenticators.get(ctx.underlying)
        if auth is None:
            auth = Authenticator(zmq.Context.shadow(ctx.underlying), AllowList(curve.allowed),
                                 curve.on_refused)
            auth.start()
            _authenticators[ctx.underlying] = auth
        return auth


def close() -> None:
    """Stop every authenticator (before the contexts are terminated, which would wait for
    their sockets)."""
    with _lock:
        auths = list(_authenticators.values())
        _authenticators.clear()
    for auth in auths:
        auth.stop()
