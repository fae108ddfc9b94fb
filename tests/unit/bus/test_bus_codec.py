from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.codec import MAX_FRAME_BYTES, PROTOCOL_VERSION, Envelope, decode, encode
from bus.errors import Code, CodecError


def env(**body: object) -> Envelope:
    return Envelope(type="status", source="ltmt", seq=7, ts=1700000000.25, body=dict(body))


def raw(**fields: object) -> bytes:
    base: dict[str, object] = {
        "v": PROTOCOL_VERSION, "type": "t", "source": "s", "seq": 1, "ts": 1.0, "body": {},
    }
    base.update(fields)
    return msgpack.packb(base, use_bin_type=True)


def assert_code(data: bytes, code: str) -> None:
    with pytest.raises(CodecError) as info:
        decode(data)
    assert info.value.code == code


def test_round_trip_preserves_every_field() -> None:
    e = env(px=101.5, qty=3, tags=["a", "b"], nested={"x": None, "y": b"\x00\x01"}, ok=True)
    assert decode(encode(e)) == e


json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@settings(deadline=None)  # no per-example time limit: a loaded machine must not fail it
@given(st.dictionaries(st.text(max_size=10), json_like, max_size=8))
def test_round_trip_of_any_plain_body(body: dict[str, object]) -> None:
    assert decode(encode(env(**{}).__class__("t", "s", 1, 2.0, body))).body == body


def test_int_timestamp_is_accepted_as_float() -> None:
    e = decode(raw(ts=5))
    assert e.ts == 5.0 and isinstance(e.ts, float)


def test_oversized_frame_is_refused_on_decode() -> None:
    assert_code(b"\x00" * (MAX_FRAME_BYTES + 1), Code.TOO_LARGE)


def test_oversized_body_is_refused_on_encode() -> None:
    with pytest.raises(CodecError) as info:
        encode(env(blob=b"x" * MAX_FRAME_BYTES))
    assert info.value.code == Code.TOO_LARGE


def test_ext_type_is_refused_at_top_level_and_nested() -> None:
    ext = msgpack.ExtType(5, b"abc")
    assert_code(raw(body={"x": ext}), Code.BAD_FRAME)
    assert_code(raw(body={"x": [{"y": ext}]}), Code.BAD_FRAME)
    assert_code(msgpack.packb(ext), Code.BAD_FRAME)


def test_timestamp_ext_is_refused() -> None:
    assert_code(raw(body={"t": msgpack.Timestamp(1, 0)}), Code.BAD_FRAME)


def test_non_string_keys_are_refused_anywhere() -> None:
    assert_code(raw(body={1: "x"}), Code.BAD_FRAME)
    assert_code(raw(body={"a": {b"bin": 1}}), Code.BAD_FRAME)
    assert_code(raw(body={"a": [{2.5: 1}]}), Code.BAD_FRAME)
    assert_code(msgpack.packb({1: 2}), Code.BAD_FRAME)


def test_encode_refuses_non_string_keys_and_unknown_types() -> None:
    with pytest.raises(CodecError):
        encode(env(m={1: 2}))
    with pytest.raises(CodecError):
        encode(env(obj=object()))


def test_unknown_version_is_bad_version() -> None:
    assert_code(raw(v=2), Code.BAD_VERSION)
    assert_code(raw(v=0), Code.BAD_VERSION)


@pytest.mark.parametrize(
    "fields",
    [
        {"v": "1"}, {"type": 3}, {"type": ""}, {"source": None}, {"seq": "1"}, {"seq": -1},
        {"seq": True}, {"ts": "now"}, {"ts": float("inf")}, {"body": []}, {"extra": 1},
    ],
)
def test_wrong_typed_fields_are_bad_frame(fields: dict[str, object]) -> None:
    assert_code(raw(**fields), Code.BAD_FRAME)


@pytest.mark.parametrize("missing", ["v", "type", "source", "seq", "ts", "body"])
def test_missing_field_is_bad_frame(missing: str) -> None:
    d = msgpack.unpackb(raw())
    del d[missing]
    assert_code(msgpack.packb(d), Code.BAD_FRAME)


def test_truncated_frame_is_bad_frame() -> None:
    data = encode(env(a=1, b="two"))
    for cut in range(len(data)):
        assert_code(data[:cut], Code.BAD_FRAME)


def test_trailing_bytes_are_bad_frame() -> None:
    assert_code(encode(env()) + b"\x00", Code.BAD_FRAME)


def test_garbage_and_non_map_frames_are_bad_frame() -> None:
    for junk in (b"", b"\xc1", b"hello world", msgpack.packb([1, 2, 3]), msgpack.packb("s")):
        assert_code(junk, Code.BAD_FRAME)


def test_deep_nesting_is_bad_frame_not_a_crash() -> None:
    assert_code(b"\x91" * 100_000 + b"\xc0", Code.BAD_FRAME)


def test_huge_declared_lengths_are_refused_without_allocating() -> None:
    assert_code(b"\xdd\xff\xff\xff\xff", Code.BAD_FRAME)  # array32 of 4G items
    assert_code(b"\xdf\xff\xff\xff\xff", Code.BAD_FRAME)  # map32
    assert_code(b"\xdb\xff\xff\xff\xff", Code.BAD_FRAME)  # str32


@settings(deadline=None)  # no per-example time limit: a loaded machine must not fail it
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode(data)


def test_bytes_key_is_refused_even_from_a_memoryview() -> None:
    data = raw(body={"a": {b"k": 1}})
    with pytest.raises(CodecError):
        decode(memoryview(data))


def test_bin_values_are_fine_when_keys_are_strings() -> None:
    e = env(blob=b"\xc4\xc5\xc6", nested={"b": b"\x00"})
    assert decode(encode(e)) == e
