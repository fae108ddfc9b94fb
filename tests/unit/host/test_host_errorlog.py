"""The host's count of a strategy's handler exceptions, at explicit times (no clock read)."""

from __future__ import annotations

import pytest

from ats.host.errorlog import WINDOW, ErrorLog

T0 = 1_800_000_000.0  # any unix time: the log reads no clock


def boom(message: str = "bad bar") -> ValueError:
    return ValueError(message)


def test_errors_are_counted_within_the_five_minute_window_only() -> None:
    errors = ErrorLog()
    for i in range(3):
        errors.record("handle_bar", boom(), T0 + i)
    assert errors.count(T0 + 2) == 3
    assert errors.count(T0 + WINDOW - 1) == 3  # the first is 299 s old: still in
    assert errors.count(T0 + WINDOW) == 2  # exactly 300 s old: out
    assert errors.count(T0 + WINDOW + 2) == 0
    assert errors.total == 3  # the total never forgets


def test_the_last_error_keeps_type_message_place_and_time() -> None:
    errors = ErrorLog()
    assert errors.info(T0) == {"errors_5m": 0, "errors_total": 0, "last_error": None}
    errors.record("handle_bar", boom("first"), T0)
    errors.record("advance_clock", KeyError("SPY"), T0 + 7)
    assert errors.last is not None
    assert errors.last.text == "KeyError: 'SPY'"
    assert errors.info(T0 + 10) == {
        "errors_5m": 2, "errors_total": 2,
        "last_error": {"where": "advance_clock", "type": "KeyError", "message": "'SPY'",
                       "time": T0 + 7}}


def test_an_exception_without_a_message_is_named_by_its_type() -> None:
    errors = ErrorLog()
    assert errors.record("handle_fill", ZeroDivisionError(), T0).text == "ZeroDivisionError"


def test_the_same_error_again_is_recognised_as_a_repeat() -> None:
    errors = ErrorLog()
    assert not errors.repeats_last("handle_bar", boom())
    errors.record("handle_bar", boom(), T0)
    assert errors.repeats_last("handle_bar", boom())
    assert not errors.repeats_last("handle_bar", boom("other"))
    assert not errors.repeats_last("handle_fill", boom())
    assert not errors.repeats_last("handle_bar", RuntimeError("bad bar"))


def test_a_halt_is_due_at_halt_after_errors_within_the_window() -> None:
    errors = ErrorLog(halt_after=3)
    errors.record("handle_bar", boom(), T0)
    errors.record("handle_bar", boom(), T0 + 100)
    assert not errors.halt_due(T0 + 100)
    # the first has left the window when the third comes: still two in five minutes
    errors.record("handle_bar", boom(), T0 + WINDOW + 1)
    assert not errors.halt_due(T0 + WINDOW + 1)
    errors.record("handle_bar", boom(), T0 + WINDOW + 2)
    assert errors.halt_due(T0 + WINDOW + 2)


def test_after_a_rearm_only_new_errors_count_towards_the_next_halt() -> None:
    errors = ErrorLog(halt_after=2)
    for i in range(3):
        errors.record("handle_bar", boom(), T0 + i)
    assert errors.halt_due(T0 + 2)
    errors.rearm()
    assert not errors.halt_due(T0 + 2)
    errors.record("handle_bar", boom(), T0 + 3)
    assert not errors.halt_due(T0 + 3)  # one since the re-arm, though four in the window
    errors.record("handle_bar", boom(), T0 + 4)
    assert errors.halt_due(T0 + 4)


def test_halt_after_zero_never_halts() -> None:
    errors = ErrorLog(halt_after=0)
    for i in range(1000):
        errors.record("handle_bar", boom(), T0 + i * 0.01)
    assert errors.count(T0 + 10) == 1000
    assert not errors.halt_due(T0 + 10)


def test_a_negative_halt_after_is_refused() -> None:
    with pytest.raises(ValueError, match="halt_after must be >= 0"):
        ErrorLog(halt_after=-1)
