"""The wire envelope and its msgpack codec.

An encoded envelope is one msgpack map ``{"v", "type", "source", "seq", "ts", "body"}``.
Only plain msgpack types are allowed: ExtType and non-string map keys are refused anywhere
in the frame, and so are frames over MAX_FRAME_BYTES. Nesting is bounded by msgpack's own
stack (packing refuses depth > 511, unpacking > ~1000), both surfaced as CodecError.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import msgpack

from bus.errors import Code, CodecError

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({PROTOCOL_VERSION})
MAX_FRAME_BYTES = 1 << 20
MAX_CONTAINER_LEN = 100_000  # elements in one array or map


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    source: str
    seq: int
    ts: float  # unix seconds
    body: dict[str, Any]
    v: int = PROTOCOL_VERSION


def _reject_ext(code: int, data: bytes) -> NoReturn:
    raise CodecError(Code.BAD_FRAME, f"ExtType {code} is not allowed")


def _check_map(d: dict[Any, Any]) -> dict[Any, Any]:
    for k in d:
        if type(k) is not str:
            raise CodecError(Code.BAD_FRAME, f"map key {k!r} is not a string")
    return d


_UNPACK_LIMITS: dict[str, Any] = {
    "raw": False,
    "strict_map_key": True,  # refuses keys other than str and bytes
    "ext_hook": _reject_ext,
    "max_str_len": MAX_FRAME_BYTES,
    "max_bin_len": MAX_FRAME_BYTES,
    "max_array_len": MAX_CONTAINER_LEN,
    "max_map_len": MAX_CONTAINER_LEN,
    "max_ext_len": 0,
}
_packb = functools.partial(msgpack.packb, use_bin_type=True)
_unpack = functools.partial(msgpack.unpackb, **_UNPACK_LIMITS)
_unpack_checked = functools.partial(msgpack.unpackb, **_UNPACK_LIMITS, object_hook=_check_map)

_CONTAINERS = frozenset((dict, list, tuple))  # a set: `in` hashes once, a tuple compares thrice


def _check_keys(obj: Any) -> None:
    if type(obj) is dict:
        for k, v in obj.items():
            if type(k) is not str:
                raise CodecError(Code.BAD_FRAME, f"map key {k!r} is not a string")
            if type(v) in _CONTAINERS:
                _check_keys(v)
    else:
        for v in obj:
            if type(v) in _CONTAINERS:
                _check_keys(v)


def encode(env: Envelope) -> bytes:
    """Encode an envelope; raise CodecError (BAD_FRAME / TOO_LARGE) if it cannot go on the wire."""
    return pack(env.type, env.source, env.seq, env.ts, env.body, env.v)


def pack(
    type: str, source: str, seq: int, ts: float, body: dict[str, Any], v: int = PROTOCOL_VERSION
) -> bytes:
    """``encode`` without building an Envelope first."""
    return _pack_with(_packb, type, source, seq, ts, body, v)


class EnvelopePacker:
    """``pack`` through one msgpack Packer kept by its owner, not one made per message (a
    third of the cost of packing an envelope). Not thread-safe: the publisher packs under
    its lock."""

    __slots__ = ("_packb",)

    def __init__(self) -> None:
        self._packb: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True).pack

    def pack(self, type: str, source: str, seq: int, ts: float, body: dict[str, Any],
             v: int = PROTOCOL_VERSION) -> bytes:
        return _pack_with(self._packb, type, source, seq, ts, body, v)


def _pack_with(packb: Callable[[Any], bytes], type: str, source: str, seq: int, ts: float,
               body: dict[str, Any], v: int) -> bytes:
    _check_keys(body)
    try:
        data = packb({"v": v, "type": type, "source": source, "seq": seq, "ts": ts, "body": body})
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(Code.BAD_FRAME, f"cannot encode envelope: {exc}") from None
    if len(data) > MAX_FRAME_BYTES:
        raise CodecError(Code.TOO_LARGE, f"frame of {len(data)} bytes > {MAX_FRAME_BYTES}")
    return data


_BIN_MARKER = re.compile(b"[\xc4-\xc6]")
_FIELDS = operator.itemgetter("v", "type", "source", "seq", "ts", "body")


class _UnfrozenEnvelope:
    """An Envelope's twin: the same slots, so the same layout, but not frozen. Its plain
    `__init__` stores each slot directly (the frozen one calls `object.__setattr__` per
    field); `decode` then gives it the class Envelope."""

    __slots__ = Envelope.__slots__

    def __init__(self, type: str, source: str, seq: int, ts: float, body: dict[str, Any],
                 v: int) -> None:
        self.type = type
        self.source = source
        self.seq = seq
        self.ts = ts
        self.body = body
        self.v = v


def decode(data: bytes | memoryview) -> Envelope:
    """Decode and validate one frame; every failure is a CodecError, never anything else."""
    if len(data) > MAX_FRAME_BYTES:
        raise CodecError(Code.TOO_LARGE, f"frame of {len(data)} bytes > {MAX_FRAME_BYTES}")
    try:
        # Without a bin marker (0xc4..0xc6) anywhere in the frame there can be no bytes
        # key, so the per-map key check only runs on frames that might need it.
        if type(data) is bytes:  # three byte searches (memchr) cost half the regex's search
            marked = 0xC4 in data or 0xC5 in data or 0xC6 in data
        else:
            marked = _BIN_MARKER.search(data) is not None
        unpack = _unpack_checked if marked else _unpack
        obj = unpack(data)
    except CodecError:
        raise
    except Exception as exc:  # msgpack raises ValueError, StackError, ExtraData, TypeError...
        raise CodecError(Code.BAD_FRAME, f"not a msgpack frame: {type(exc).__name__}") from None
    # fast path for a well-formed envelope; anything else gets a precise error below
    if type(obj) is dict and len(obj) == 6:
        try:
            v, type_, source, seq, ts, body = _FIELDS(obj)
        except KeyError:
            return _decode_slow(obj)
        if (
            v == PROTOCOL_VERSION and type(v) is int
            and type(type_) is str and type_
            and type(source) is str
            and type(seq) is int and seq >= 0
            and type(ts) is float and ts - ts == 0.0  # math.isfinite(ts), without a call
            and type(body) is dict
        ):
            env = _UnfrozenEnvelope(type_, source, seq, ts, body, v)
            env.__class__ = Envelope  # type: ignore[assignment]
            return cast(Envelope, env)
    return _decode_slow(obj)


def _decode_slow(obj: Any) -> Envelope:
    if type(obj) is not dict:
        raise CodecError(Code.BAD_FRAME, f"envelope is {type(obj).__name__}, not a map")
    v = obj.get("v")
    if type(v) is not int:
        raise CodecError(Code.BAD_FRAME, "envelope version missing or not an int")
    if v not in SUPPORTED_VERSIONS:
        raise CodecError(Code.BAD_VERSION, f"protocol version {v} not supported")
    type_ = obj.get("type")
    source = obj.get("source")
    seq = obj.get("seq")
    ts = obj.get("ts")
    body = obj.get("body")
    if type(type_) is not str or not type_:
        raise CodecError(Code.BAD_FRAME, "envelope type missing or not a string")
    if type(source) is not str:
        raise CodecError(Code.BAD_FRAME, "envelope source missing or not a string")
    if type(seq) is not int or seq < 0:
        raise CodecError(Code.BAD_FRAME, "envelope seq missing or not a non-negative int")
    if type(ts) is float:
        if not math.isfinite(ts):
            raise CodecError(Code.BAD_FRAME, "envelope ts is not finite")
    elif type(ts) is int:
        ts = float(ts)
    else:
        raise CodecError(Code.BAD_FRAME, "envelope ts missing or not a number")
    if type(body) is not dict:
        raise CodecError(Code.BAD_FRAME, "envelope body missing or not a map")
    if len(obj) != 6:
        raise CodecError(Code.BAD_FRAME, f"envelope has unexpected fields: {sorted(obj)}")
    return Envelope(type=type_, source=source, seq=seq, ts=ts, body=body, v=v)
