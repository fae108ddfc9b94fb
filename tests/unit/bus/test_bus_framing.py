"""The frames on the wire: a publisher sends exactly ``[topic, envelope]`` (the envelope as
``codec.pack`` makes it), and both subscribers take a message whole, frame count checked,
so a message of one, three or four frames is dropped without the next one being misread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
import zmq
import zmq.asyncio

from bus.codec import Envelope, EnvelopePacker, decode, encode, pack
from bus.errors import Code, CodecError
from bus.publisher import Publisher
from bus.subscriber import Subscriber, SyncSubscriber

WAIT = 10.0


def good(seq: int, **body: object) -> bytes:
    return encode(Envelope("status", "p", seq, 1700000000.5, dict(body)))


#: malformed messages, each but the last dropped as one bad frame; frames 3-4 of the last
#: are a well-formed message of a topic nobody subscribed to
JUNK: list[list[bytes]] = [
    [b"status.a."],
    [b"status.a.", good(1), b"extra"],
    [b"status.a.", good(2), b"log.x.", good(1, sneaked=True)],
]


@pytest.fixture
def xpub(ctx: zmq.Context) -> Iterator[Callable[[str], zmq.Socket]]:  # type: ignore[type-arg]
    """A raw XPUB bound at an inproc endpoint; call it with the endpoint to bind."""
    socks: list[zmq.Socket] = []  # type: ignore[type-arg]

    def bind(endpoint: str) -> zmq.Socket:  # type: ignore[type-arg]
        raw = ctx.socket(zmq.XPUB)
        raw.setsockopt(zmq.LINGER, 0)
        raw.bind(endpoint)
        socks.append(raw)
        return raw

    yield bind
    for s in socks:
        s.close(linger=0)


def wait_subscribed(raw: zmq.Socket) -> None:  # type: ignore[type-arg]
    # XPUB hands us the subscription: from then on nothing we send is dropped
    assert raw.poll(int(WAIT * 1000)), "the subscription never reached the publisher"
    assert raw.recv() == b"\x01status."


def send_junk_then_good(raw: zmq.Socket) -> None:  # type: ignore[type-arg]
    for frames in JUNK:
        raw.send_multipart(frames)
    raw.send_multipart([b"status.a.", good(3, end=True)])


def test_publisher_sends_the_topic_and_the_packed_envelope(ctx: zmq.Context) -> None:  # type: ignore[type-arg]
    hub_side = ctx.socket(zmq.XSUB)
    hub_side.setsockopt(zmq.LINGER, 0)
    hub_side.bind("inproc://wire")
    hub_side.send(b"\x01")  # subscribe to everything, as the hub does
    pub = Publisher(ctx, "inproc://wire", "src")
    try:
        body = {"px": 101.25, "qty": 3, "tags": ["a"], "nested": {"k": None}}
        for _ in range(100):  # the connection comes up a moment after connect()
            pub.publish("status.src.", "status", body)
            if hub_side.poll(50):
                break
        frames = hub_side.recv_multipart()
        assert len(frames) == 2 and frames[0] == b"status.src."
        env = decode(frames[1])
        assert frames[1] == pack("status", "src", env.seq, env.ts, body)
        assert (env.type, env.source, env.body) == ("status", "src", body)
    finally:
        pub.close()
        hub_side.close(linger=0)


def test_sync_subscriber_drops_misframed_messages_and_reads_the_next_whole(
    ctx: zmq.Context, xpub: Callable[[str], zmq.Socket]  # type: ignore[type-arg]
) -> None:
    sub = SyncSubscriber(ctx, "inproc://framing-sync", ["status."])
    try:
        raw = xpub("inproc://framing-sync")
        wait_subscribed(raw)
        send_junk_then_good(raw)
        got = sub.recv(WAIT)
        assert got is not None
        assert got[0] == "status.a." and got[1].body == {"end": True}
        assert sub.bad_frames == len(JUNK) and sub.received == 1
        assert sub.recv(0.05) is None  # nothing else: the sneaked message was never taken
    finally:
        sub.close()


def test_async_subscriber_drops_misframed_messages_and_reads_the_next_whole(
    actx: zmq.asyncio.Context,
) -> None:
    async def run() -> None:
        sub = Subscriber(actx, "inproc://framing-async", ["status."])
        # the async context's sockets live in `actx`; the raw XPUB must share it (inproc)
        raw = actx.socket(zmq.XPUB)
        raw.setsockopt(zmq.LINGER, 0)
        try:
            raw.bind("inproc://framing-async")
            assert await raw.poll(int(WAIT * 1000)), "the subscription never arrived"
            assert await raw.recv() == b"\x01status."
            for frames in JUNK:
                await raw.send_multipart(frames)
            await raw.send_multipart([b"status.a.", good(3, end=True)])
            got = await sub.recv(WAIT)
            assert got is not None
            assert got[0] == "status.a." and got[1].body == {"end": True}
            assert sub.bad_frames == len(JUNK) and sub.received == 1
            assert await sub.recv(0.05) is None
        finally:
            raw.close(linger=0)
            sub.close()

    asyncio.run(run())


def test_envelope_packer_packs_as_pack_and_refuses_the_same() -> None:
    packer = EnvelopePacker()
    body = {"px": 1.5, "b": b"\x00", "l": [1, {"x": "y"}]}
    assert packer.pack("t", "s", 4, 2.5, body) == pack("t", "s", 4, 2.5, body)
    with pytest.raises(CodecError) as info:
        packer.pack("t", "s", 5, 2.5, {"m": {1: 2}})
    assert info.value.code == Code.BAD_FRAME
    with pytest.raises(CodecError) as info:
        packer.pack("t", "s", 5, 2.5, {"obj": object()})
    assert info.value.code == Code.BAD_FRAME
    with pytest.raises(CodecError) as info:
        packer.pack("t", "s", 5, 2.5, {"blob": b"x" * (1 << 20)})
    assert info.value.code == Code.TOO_LARGE
    # a refused body leaves nothing behind in the packer
    assert packer.pack("t", "s", 6, 2.5, body) == pack("t", "s", 6, 2.5, body)


def test_a_decoded_envelope_is_a_frozen_envelope_equal_to_the_one_encoded() -> None:
    sent = Envelope("status", "p", 9, 1700000000.5, {"x": [1, 2]})
    got = decode(encode(sent))
    assert type(got) is Envelope and got == sent and repr(got) == repr(sent)
    with pytest.raises(AttributeError):
        got.seq = 10  # type: ignore[misc]
