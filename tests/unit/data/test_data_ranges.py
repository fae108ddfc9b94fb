"""Missing-range computation and IB-sized chunks."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from ats.barsizes import SIZES
from ats.data.ranges import (
    Chunk,
    Coverage,
    Gap,
    chunks,
    extend,
    ib_duration,
    ib_end,
    keep,
    missing,
    parse_duration,
    request_end,
)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_nothing_stored_means_the_whole_range_newest_first() -> None:
    gaps = missing(ts("2020-01-01"), ts("2024-01-01"), "1d", None)
    assert gaps == [Gap(ts("2020-01-01"), ts("2024-01-01"), "back")]


def test_only_the_tail_after_the_last_stored_bar_is_missing() -> None:
    cov = Coverage(ts("2020-01-01"), ts("2023-06-01"))
    gaps = missing(ts("2020-01-01"), ts("2024-01-01"), "1d", cov)
    assert gaps == [Gap(ts("2023-06-01") + pd.Timedelta(1, "ns"), ts("2024-01-01"), "forward")]


def test_a_longer_duration_adds_the_head_before_the_first_stored_bar() -> None:
    cov = Coverage(ts("2022-01-01"), ts("2023-12-31"))
    gaps = missing(ts("2020-01-01"), ts("2024-01-01"), "1d", cov)
    assert gaps == [Gap(ts("2020-01-01"), ts("2022-01-01"), "back")]


def test_a_covered_range_has_nothing_missing() -> None:
    cov = Coverage(ts("2020-01-01"), ts("2023-12-31"))
    assert missing(ts("2021-01-01"), ts("2024-01-01"), "1d", cov) == []


def test_a_range_shorter_than_one_bar_is_not_requested() -> None:
    assert missing(ts("2024-01-01 10:00"), ts("2024-01-01 12:00"), "1d", None) == []


def test_back_chunks_run_newest_first_and_tile_the_gap() -> None:
    gap = Gap(ts("2014-01-01"), ts("2024-01-01"), "back")
    out = chunks(gap, "1d")
    assert out[0].end == gap.end and out[-1].start == gap.start
    assert all(a.start == b.end for a, b in itertools.pairwise(out))
    assert all(c.end - c.start <= SIZES["1d"].request_span for c in out)
    assert len(out) == 11


def test_forward_chunks_run_oldest_first() -> None:
    gap = Gap(ts("2024-01-01"), ts("2024-01-20"), "forward")
    out = chunks(gap, "1min")
    assert [c.start for c in out] == [ts("2024-01-01"), ts("2024-01-08"), ts("2024-01-15")]
    assert out[-1].end == gap.end


@pytest.mark.parametrize(("bar", "span"), [("5s", pd.Timedelta(hours=1)),
                                           ("1min", pd.Timedelta(days=7)),
                                           ("1d", pd.Timedelta(days=365))])
def test_chunk_spans_follow_ib_limits(bar: str, span: pd.Timedelta) -> None:
    assert SIZES[bar].request_span == span


def test_ib_durations_and_end_times() -> None:
    assert ib_duration(ts("2024-01-01"), ts("2024-12-31"), "1d") == "365 D"
    assert ib_duration(ts("2024-01-01 10:00"), ts("2024-01-01 11:00"), "5s") == "3600 S"
    assert ib_duration(ts("2024-01-01"), ts("2024-01-08"), "1min") == "7 D"
    assert ib_end(ts("2024-01-02 03:04:05")) == "20240102-03:04:05"


def test_the_request_reaches_past_the_chunk_to_include_its_last_bar() -> None:
    chunk = Chunk(ts("2024-01-01"), ts("2024-01-01 10:00:30"))
    assert request_end(chunk, "1min", ts("2024-02-01")) == ts("2024-01-01 10:01:30")
    assert request_end(chunk, "1min", ts("2024-01-01 10:00:40")) == ts("2024-01-01 10:00:40")


def test_only_completed_bars_inside_the_chunk_are_kept() -> None:
    idx = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    df = pd.DataFrame({"close": range(5)}, index=idx)
    chunk = Chunk(ts("2024-01-02"), ts("2024-01-10"))
    kept = keep(df, chunk, "1d", complete_by=ts("2024-01-05 12:00"))
    # Jan 5's bar ends Jan 6: not complete at Jan 5 12:00
    assert list(kept.index) == [ts("2024-01-02"), ts("2024-01-03"), ts("2024-01-04")]


def test_coverage_grows_by_each_chunk_and_stops_at_the_last_complete_bar() -> None:
    now = ts("2024-06-01 12:00")
    cov = extend(None, Chunk(ts("2024-01-01"), now), "1d", now)
    assert cov == Coverage(ts("2024-01-01"), now - pd.Timedelta(days=1))
    cov = extend(cov, Chunk(ts("2023-01-01"), ts("2024-01-01")), "1d", now)
    assert cov.first == ts("2023-01-01") and cov.last == now - pd.Timedelta(days=1)


@pytest.mark.parametrize(("text", "offset"), [
    ("10y", pd.DateOffset(years=10)), ("6m", pd.DateOffset(months=6)),
    ("2w", pd.DateOffset(weeks=2)), ("30d", pd.DateOffset(days=30)),
    ("3600s", pd.DateOffset(seconds=3600)), ("10 Y", pd.DateOffset(years=10)),
])
def test_durations(text: str, offset: pd.DateOffset) -> None:
    assert parse_duration(text) == offset


@pytest.mark.parametrize("text", ["", "10", "y", "0y", "3x"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_keep_takes_an_empty_answer_whose_index_has_no_time_zone() -> None:
    # The venue answered no bars (a session not begun): bars_to_df gives a naive empty index.
    empty = pd.DataFrame({"close": []}, index=pd.DatetimeIndex([]))
    chunk = Chunk(ts("2024-01-02"), ts("2024-01-05"))
    assert keep(empty, chunk, "5min", complete_by=ts("2024-01-05")).empty
