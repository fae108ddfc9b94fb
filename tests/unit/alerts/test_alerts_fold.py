"""Deduplication (repeats fold into one that says how many) and the rate limit."""

from __future__ import annotations

from ats.alerts.fold import Folder
from ats.alerts.model import Alert, Level

T = 1000.0


def alert(key: str = "k", level: Level = Level.WARNING, title: str = "t") -> Alert:
    return Alert.make(level, key, title, ts=T)


def test_repeats_within_the_window_fold_into_one_that_says_how_many() -> None:
    f = Folder(repeat_seconds=60, max_per_minute=0)
    first = alert()
    assert f.offer(first, T) == [first]
    assert all(f.offer(alert(title=f"t{i}"), T + i) == [] for i in range(1, 5))
    assert f.tick(T + 59) == []
    (repeat,) = f.tick(T + 60)
    assert repeat.folded == 4 and repeat.title == "t4"
    assert repeat.subject == "[ats WARNING] t4 (+4 repeats folded)"
    assert "4 more alerts like this one" in repeat.body


def test_a_repeat_opens_a_new_window_and_a_quiet_key_is_forgotten() -> None:
    f = Folder(repeat_seconds=60, max_per_minute=0)
    f.offer(alert(), T)
    f.offer(alert(), T + 1)
    assert len(f.tick(T + 60)) == 1
    assert f.offer(alert(), T + 70) == []  # within the repeat's window
    assert [a.folded for a in f.tick(T + 120)] == [1]
    assert f.tick(T + 180) == []  # nothing folded in that window: the key is forgotten
    assert len(f.offer(alert(), T + 181)) == 1


def test_other_keys_are_not_folded_together() -> None:
    f = Folder(repeat_seconds=60, max_per_minute=0)
    assert len(f.offer(alert("a"), T)) == 1 and len(f.offer(alert("b"), T)) == 1


def test_past_the_rate_limit_alerts_are_held_and_sent_as_one_digest() -> None:
    f = Folder(repeat_seconds=60, max_per_minute=2)
    sent = [a for i in range(5) for a in f.offer(alert(f"k{i}", title=f"t{i}"), T)]
    assert [a.title for a in sent] == ["t0", "t1"] and f.held == 3
    assert f.tick(T + 30) == []  # no room yet
    (digest,) = f.tick(T + 60)
    assert digest.title == "3 alerts held back by the rate limit"
    assert digest.message.splitlines() == ["WARNING t2", "WARNING t3", "WARNING t4"]
    assert f.held == 0


def test_critical_alerts_are_never_held() -> None:
    f = Folder(repeat_seconds=60, max_per_minute=1)
    f.offer(alert("a"), T)
    crit = alert("b", Level.CRITICAL)
    assert f.offer(crit, T) == [crit]
