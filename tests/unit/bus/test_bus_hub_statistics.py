from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import zmq

from bus import topics
from bus.endpoints import Endpoints
from bus.hub import Hub, traffic
from bus.publisher import Publisher
from bus.subscriber import SyncSubscriber


@pytest.mark.timeout(30)
def test_hub_statistics_count_the_messages_and_bytes_it_forwards(
    ctx: zmq.Context, run_dir: Path  # type: ignore[type-arg]
) -> None:
    eps = Endpoints.ipc(run_dir)
    h = Hub(ctx, eps.publish, eps.subscribe)
    t = threading.Thread(target=h.run, daemon=True)
    t.start()
    sub = SyncSubscriber(ctx, eps.subscribe, [topics.prefix("fill")])
    pub = Publisher(ctx, eps.publish, "test")
    try:
        time.sleep(0.3)  # the subscription reaches the hub
        for i in range(10):
            pub.publish(topics.fill("s1"), "fill", {"i": i})
        for _ in range(10):
            assert sub.recv(timeout=5.0) is not None
        stats = h.statistics()
        assert stats is not None
        counts = traffic(stats)
        assert counts["messages_in"] == 10 and counts["messages_out"] == 10
        assert counts["bytes_in"] == counts["bytes_out"] > 10 * len("fill.s1.")
    finally:
        pub.close()
        sub.close()
        h.stop()
        t.join(5)
    assert not t.is_alive()
    assert h.statistics() is None  # stopped: nobody answers
