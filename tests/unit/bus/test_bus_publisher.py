from __future__ import annotations

import time

import zmq

from bus import topics
from bus.codec import Envelope, encode
from bus.publisher import Publisher
from bus.subscriber import Gap, SyncSubscriber


def test_seq_is_per_topic_starting_at_one(ctx: zmq.Context) -> None:  # type: ignore[type-arg]
    pub = Publisher(ctx, "inproc://nobody", "src")
    try:
        a, b = topics.status("a"), topics.status("b")
        assert [pub.publish(a, "s", {}), pub.publish(a, "s", {}), pub.publish(b, "s", {})] == [
            1, 2, 1,
        ]
        assert pub.last_seq(a) == 2
    finally:
        pub.close()


def test_full_queue_drops_and_counts_instead_of_blocking(ctx: zmq.Context) -> None:  # type: ignore[type-arg]
    # a hub-like XSUB that subscribes to everything and never reads
    sub = ctx.socket(zmq.XSUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 1)
    sub.bind("inproc://slow")
    sub.send(b"\x01")
    pub = Publisher(ctx, "inproc://slow", "src", hwm=1)
    try:
        deadline = time.monotonic() + 10
        while pub.dropped == 0 and time.monotonic() < deadline:
            pub.publish(topics.log("src"), "log", {"x": 1})
            sub.poll(0)  # a bound socket attaches new peers only when it is called into
        assert pub.dropped > 0
    finally:
        pub.close()
        sub.close(linger=0)


def test_subscriber_reports_gap_from_dropped_messages(ctx: zmq.Context) -> None:  # type: ignore[type-arg]
    gaps: list[Gap] = []
    sub = SyncSubscriber(ctx, "inproc://gappy", [""], on_gap=gaps.append)
    raw = ctx.socket(zmq.XPUB)
    raw.setsockopt(zmq.LINGER, 0)
    try:
        raw.bind("inproc://gappy")
        # XPUB hands us the subscription: from then on nothing we send is dropped
        assert raw.poll(10_000), "the subscription never reached the publisher"
        assert raw.recv() == b"\x01"
        for seq in (1, 2, 5, 6, 1):  # 3-4 lost, then the publisher restarts at 1
            raw.send_multipart([b"log.p.", encode(Envelope("log", "p", seq, 0.0, {}))])
        got = [sub.recv(10) for _ in range(5)]
        assert [g[1].seq for g in got if g is not None] == [1, 2, 5, 6, 1]
        assert [(g.source, g.expected, g.got, g.topic) for g in gaps] == [("p", 3, 5, "log.p.")]
        assert sub.gaps == gaps
    finally:
        raw.close(linger=0)
        sub.close()
