"""The web console's login token: random, in a 0600 file under ATS_HOME, never on the bus."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: bytes of randomness in a token (urlsafe base64: 43 characters)
TOKEN_BYTES = 32


def ensure(path: Path) -> str:
    """The token in ``path``; a new random one, written 0600, when there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read(path)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def read(path: Path) -> str:
    """The token in ``path``; its mode is put back to 0600 if someone widened it."""
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    token = path.read_text().strip()
    if not token:
        raise ValueError(f"{path} is empty: remove it and run `ats-ctl web token`")
    return token
