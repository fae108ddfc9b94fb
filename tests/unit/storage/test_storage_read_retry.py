"""read_retry: a read that races a writer (a pruned version, a listing not yet consistent) is
tried again with a doubling pause; other errors, and the last try's, reach the caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from arcticdb.exceptions import NoSuchVersionException, SchemaException, StorageException

from ats.storage.arctic import READ_ATTEMPTS, READ_BACKOFF_SECONDS, read_retry


def flaky(failures: list[Exception],
          result: str = "rows") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def read() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return calls, read


def test_a_read_that_loses_a_race_is_read_again_after_a_doubling_pause() -> None:
    pauses: list[float] = []
    calls, read = flaky([NoSuchVersionException("pruned"), StorageException("not listed")])
    assert read_retry(read, "ledger fills", sleep=pauses.append) == "rows"
    assert len(calls) == 3
    assert pauses == [READ_BACKOFF_SECONDS, 2 * READ_BACKOFF_SECONDS]


def test_the_last_error_reaches_the_caller_after_every_attempt() -> None:
    pauses: list[float] = []
    calls, read = flaky([StorageException(f"gone {i}") for i in range(READ_ATTEMPTS)])
    with pytest.raises(StorageException, match=f"gone {READ_ATTEMPTS - 1}"):
        read_retry(read, "registry", sleep=pauses.append)
    assert len(calls) == READ_ATTEMPTS and len(pauses) == READ_ATTEMPTS - 1


def test_an_error_that_no_retry_can_mend_is_raised_at_once() -> None:
    calls, read = flaky([SchemaException("bad dtype")])
    with pytest.raises(SchemaException):
        read_retry(read, "bars SPY.1d", sleep=lambda s: None)
    assert len(calls) == 1
