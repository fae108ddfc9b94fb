"""Delivery through Apprise to local servers, and the courier's retries with backoff."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from alertkit import SmtpRecorder, WebhookRecorder, text

from ats.alerts import delivery
from ats.alerts.delivery import Courier, Destination, Result
from ats.alerts.model import Alert, Level
from ats.alerts.store import Outbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def webhook() -> Iterator[WebhookRecorder]:
    w = WebhookRecorder().start()
    yield w
    w.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpRecorder]:
    s = SmtpRecorder(free_port()).start()
    yield s
    s.stop()


def alert(title: str, level: Level = Level.WARNING) -> Alert:
    return Alert.make(level, title, title, f"about {title}", ts=1.0)


def test_a_webhook_gets_the_subject_the_message_and_the_type(webhook: WebhookRecorder) -> None:
    r = delivery.send(Destination(webhook.url, Level.INFO), "[ats CRITICAL] x", "details",
                      Level.CRITICAL)
    assert r == Result(True)
    (post,) = webhook.posts
    assert (post["title"], post["message"], post["type"]) == ("[ats CRITICAL] x", "details",
                                                              "failure")


def test_mail_arrives_at_the_smtp_server(smtp: SmtpRecorder) -> None:
    assert delivery.send(Destination(smtp.url(), Level.INFO), "[ats WARNING] y", "body text",
                         Level.WARNING).ok
    (msg,) = smtp.box.messages
    assert msg["Subject"] == "[ats WARNING] y" and "body text" in text(msg)


def test_a_failed_send_says_why() -> None:
    r = delivery.send(Destination(f"json://127.0.0.1:{free_port()}/hook", Level.INFO), "s", "b",
                      Level.INFO)
    assert not r.ok and "onnection" in r.error


def test_an_unusable_url_is_a_failure_not_an_exception() -> None:
    r = delivery.send(Destination("nosuchscheme://x", Level.INFO), "s", "b", Level.INFO)
    assert not r.ok and "nosuchscheme://****" in r.error


def test_a_masked_url_hides_passwords_and_tokens() -> None:
    assert delivery.mask("json://user:s3cret@127.0.0.1:9000/hook") == \
        "json://user:****@127.0.0.1:9000/hook"
    assert "ABCDEF" not in delivery.mask("tgram://123456:ABCDEFtoken/987")
    assert delivery.mask("nosuchscheme://user:pw@h") == "nosuchscheme://****"


def test_urls_are_tables_or_strings_with_warning_as_their_default_level() -> None:
    dests = delivery.destinations([{"url": "json://a/h", "min_level": "CRITICAL"},
                                   {"url": "json://b/h"}, "json://c/h"])
    assert [d.min_level for d in dests] == [Level.CRITICAL, Level.WARNING, Level.WARNING]
    assert len({d.dest_id for d in dests}) == 3


class FlakySender:
    """Fails the first `failures` sends, then delivers; records when it was called and what
    it delivered."""

    def __init__(self, failures: int, clock: list[float]) -> None:
        self.failures, self.clock, self.calls = failures, clock, 0
        self.times: list[float] = []
        self.delivered: list[str] = []

    def __call__(self, dest: Destination, subject: str, body: str, level: Level) -> Result:
        self.calls += 1
        self.times.append(self.clock[0])
        if self.calls <= self.failures:
            return Result(False, "connection refused")
        self.delivered.append(subject)
        return Result(True)


def courier(tmp_path: Path, sender: FlakySender, clock: list[float],
            dests: list[Destination] | None = None) -> Courier:
    return Courier(dests or [Destination("json://127.0.0.1:1/h", Level.INFO)],
                   Outbox(tmp_path / "outbox.json"), retry_seconds=2.0, retry_max_seconds=10.0,
                   sender=sender, clock=lambda: clock[0])


def test_a_failed_delivery_is_retried_with_doubling_backoff_up_to_its_cap(
        tmp_path: Path) -> None:
    clock = [0.0]
    sender = FlakySender(5, clock)
    c = courier(tmp_path, sender, clock)
    c.enqueue([alert("a")])
    while not sender.delivered and clock[0] < 100:
        clock[0] += asyncio.run(c.deliver_due())
    gaps = [b - a for a, b in zip(sender.times, sender.times[1:], strict=False)]
    assert gaps == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert sender.delivered == ["[ats WARNING] a"] and c.outbox.items == []


def test_nothing_is_lost_or_reordered_while_delivery_is_down(tmp_path: Path) -> None:
    clock = [0.0]
    sender = FlakySender(3, clock)
    c = courier(tmp_path, sender, clock)
    c.enqueue([alert("a")])
    asyncio.run(c.deliver_due())
    c.enqueue([alert("b"), alert("c")])
    again = courier(tmp_path, sender, clock)  # the process restarted meanwhile
    assert again.outbox.load([d for d in again.dests]) == 3
    while len(sender.delivered) < 3 and clock[0] < 100:
        clock[0] += asyncio.run(again.deliver_due())
    assert sender.delivered == ["[ats WARNING] a", "[ats WARNING] b", "[ats WARNING] c"]


def test_each_destination_gets_only_the_levels_it_asked_for(tmp_path: Path) -> None:
    clock = [0.0]
    sender = FlakySender(0, clock)
    dests = [Destination("json://a/h", Level.INFO), Destination("json://b/h", Level.CRITICAL)]
    c = courier(tmp_path, sender, clock, dests)
    assert c.enqueue([alert("w", Level.WARNING), alert("c", Level.CRITICAL)]) == 3
    asyncio.run(c.deliver_due())
    assert sorted(sender.delivered) == ["[ats CRITICAL] c", "[ats CRITICAL] c",
                                        "[ats WARNING] w"]


def test_a_slow_destination_does_not_hold_up_the_event_loop(tmp_path: Path) -> None:
    import time

    def slow(dest: Destination, subject: str, body: str, level: Level) -> Result:
        time.sleep(0.3)
        return Result(True)

    c = Courier([Destination("json://a/h", Level.INFO)], Outbox(tmp_path / "o.json"),
                sender=slow)
    c.enqueue([alert("a")])

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        await c.deliver_due()
        t.cancel()
        return ticks

    assert asyncio.run(main()) >= 10
