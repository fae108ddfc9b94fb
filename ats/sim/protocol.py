"""TWS API wire format: 4-byte big-endian length, then NUL-terminated text fields."""

from __future__ import annotations

import builtins
import struct
from collections.abc import Iterable
from dataclasses import dataclass

HANDSHAKE_PREFIX = b"API\0"
MAX_FRAME = 1 << 24
_LEN = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent bytes that are not a TWS API frame; the connection must close."""


class FieldError(ValueError):
    """A field could not be read as the type the message needs."""


def fmt(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        if value != value:
            return ""
        return repr(value) if value != int(value) or abs(value) >= 1e16 else f"{value:.1f}"
    return str(value)


def frame(fields: Iterable[object]) -> bytes:
    body = "".join(fmt(f) + "\0" for f in fields).encode()
    return _LEN.pack(len(body)) + body


def frame_raw(payload: bytes) -> bytes:
    return _LEN.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frames; `handshake` frames are returned raw."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        buf = self._buf
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            (size,) = _LEN.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME}")
            end = pos + 4 + size
            if end > n:
                break
            out.append(bytes(buf[pos + 4:end]))
            pos = end
        if pos:
            del buf[:pos]
        return out

    def take_prefix(self, prefix: bytes) -> bool | None:
        """Consume `prefix` from the buffer: True if consumed, False if the buffer
        starts otherwise, None if too few bytes arrived yet."""
        if len(self._buf) < len(prefix):
            return None if prefix.startswith(bytes(self._buf)) else False
        if bytes(self._buf[:len(prefix)]) != prefix:
            return False
        del self._buf[:len(prefix)]
        return True


def split_fields(payload: bytes) -> list[str]:
    fields = payload.decode(errors="replace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


@dataclass
class ContractSpec:
    """The 12 contract fields a client sends inside a request."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    expiry: str = ""
    strike: str = ""
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""


class Reader:
    """Cursor over one request's fields (after the message id)."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self.fields = fields
        self.pos = start

    def str(self) -> str:
        if self.pos >= len(self.fields):
            raise FieldError(f"missing field {self.pos}")
        v = self.fields[self.pos]
        self.pos += 1
        return v

    def int(self, default: builtins.int = 0) -> builtins.int:
        v = self.str()
        if v == "":
            return default
        try:
            return int(v)
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                raise FieldError(f"field {self.pos - 1}: {v!r} is not an integer") from None
            if f != int(f):
                raise FieldError(f"field {self.pos - 1}: {v!r} is not an integer") from None
            return int(f)

    def float(self) -> builtins.float | None:
        v = self.str()
        if v == "":
            return None
        try:
            out = float(v)
        except ValueError:
            raise FieldError(f"field {self.pos - 1}: {v!r} is not a number") from None
        return None if out >= 1.7e308 else out

    def bool(self) -> builtins.bool:
        v = self.str()
        return v not in ("", "0", "false", "False")

    def skip(self, n: builtins.int = 1) -> None:
        self.pos += n

    def contract(self) -> ContractSpec:
        return ContractSpec(
            self.int(), self.str(), self.str(), self.str(), self.str(), self.str(),
            self.str(), self.str(), self.str(), self.str(), self.str(), self.str(),
        )
