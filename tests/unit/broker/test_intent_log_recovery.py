from pathlib import Path

from broker_testkit import fill, intent

from ats.broker.intents import IntentLog, IntentStatus, KnownOrder, Resolution


def approve(log: IntentLog, **kw: object) -> int:
    n = log.next_id()
    log.approve(intent(intent_id=n, **kw))  # type: ignore[arg-type]
    return n


def test_ids_are_monotonic_across_reopen_and_compaction(tmp_path: Path) -> None:
    path = tmp_path / "intents.jsonl"
    with IntentLog(path) as log:
        ids = [approve(log) for _ in range(3)]
        log.mark(ids[0], "FILLED")
    assert ids == [1, 2, 3]
    with IntentLog(path) as log:
        assert log.next_id() == 4
        log.compact()  # drops FILLED intent 1, keeps the id counter
        assert [r.intent.intent_id for r in log.records()] == [2, 3]
    with IntentLog(path) as log:
        assert log.next_id() == 5
    with IntentLog(path) as log:  # an id handed out but never approved never left: reusable
        assert log.next_id() == 5


def test_statuses_and_info_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "intents.jsonl"
    with IntentLog(path) as log:
        a, b = approve(log), approve(log)
        log.mark(a, "SUBMITTED", order_id=7, perm_id=900)
    with IntentLog(path) as log:
        rec = log.get(a)
        assert rec is not None
        assert rec.status is IntentStatus.SUBMITTED and rec.perm_id == 900
        assert [r.intent.intent_id for r in log.unresolved()] == [a, b]


def test_resolve_by_order_ref_perm_id_and_executions(tmp_path: Path) -> None:
    with IntentLog(tmp_path / "i.jsonl") as log:
        open_one = approve(log)
        by_perm = approve(log)
        log.mark(by_perm, "SUBMITTED", perm_id=555)
        cancelled = approve(log)
        only_fills = approve(log, quantity=10)
        lost = approve(log)
        done = approve(log)
        log.mark(done, "FILLED")
        out = log.resolve(
            open_orders=[KnownOrder(f"ats:alpha:{open_one}", 111, 1, "Submitted")],
            completed_orders=[KnownOrder("", 555, 2, "Filled", 10),
                              KnownOrder(f"ats:alpha:{cancelled}", 333, 3, "Cancelled", 4)],
            executions=[fill("BOT", 6, 10, ref=f"ats:alpha:{only_fills}", perm_id=444),
                        fill("BOT", 4, 10, ref=f"ats:alpha:{only_fills}", perm_id=444)],
        )
        assert out == [
            Resolution(open_one, IntentStatus.SUBMITTED, 111, 0.0),
            Resolution(by_perm, IntentStatus.FILLED, 555, 10.0),
            Resolution(cancelled, IntentStatus.CANCELLED, 333, 4.0),
            Resolution(only_fills, IntentStatus.FILLED, 444, 10.0),
            Resolution(lost, IntentStatus.UNRESOLVED, None, 0.0),
        ]
        assert [r.intent.intent_id for r in log.flagged()] == [lost]
        assert [r.intent.intent_id for r in log.unresolved()] == [open_one]
    with IntentLog(tmp_path / "i.jsonl") as log:
        rec = log.get(lost)
        assert rec is not None and rec.status is IntentStatus.UNRESOLVED


def test_unknown_intent_stays_unresolved_and_is_never_pending_again(tmp_path: Path) -> None:
    with IntentLog(tmp_path / "i.jsonl") as log:
        n = approve(log)
        log.resolve([], [], [])
        assert log.unresolved() == []
        assert log.resolve([], [], []) == []
        rec = log.get(n)
        assert rec is not None and rec.status is IntentStatus.UNRESOLVED


def test_truncated_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "i.jsonl"
    with IntentLog(path) as log:
        approve(log)
    with path.open("ab") as f:
        f.write(b'{"op":"approve","intent":{"intent_id":2')
    with IntentLog(path) as log:
        assert [r.intent.intent_id for r in log.records()] == [1]
        approve(log)
    with IntentLog(path) as log:
        assert [r.intent.intent_id for r in log.records()] == [1, 2]
