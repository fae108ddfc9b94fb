from __future__ import annotations

import math

import pytest

from ats.stats.histogram import Histogram, RoundTrips


def test_observations_fall_in_the_first_bucket_whose_bound_holds_them() -> None:
    h = Histogram([0.01, 0.1, 1.0])
    for v in (0.005, 0.01, 0.05, 0.5, 5.0):
        h.observe(v)
    assert h.counts == [2, 1, 1, 1]  # a value equal to a bound is in that bucket (le)
    assert h.cumulative() == [(0.01, 2), (0.1, 3), (1.0, 4), (math.inf, 5)]
    assert h.count == 5 and h.sum == pytest.approx(5.565)


def test_quantile_is_the_upper_bound_of_its_bucket() -> None:
    h = Histogram([0.01, 0.1, 1.0])
    assert h.quantile(0.5) is None
    for v in [0.005] * 90 + [0.5] * 9 + [50.0]:
        h.observe(v)
    assert h.quantile(0.5) == 0.01
    assert h.quantile(0.95) == 1.0
    assert h.quantile(1.0) == math.inf


def test_a_histogram_survives_its_wire_form() -> None:
    h = Histogram()
    for v in (0.002, 0.3, 7.0):
        h.observe(v)
    back = Histogram.from_dict(h.to_dict())
    assert back.to_dict() == h.to_dict()
    with pytest.raises(ValueError):
        Histogram.from_dict({**h.to_dict(), "counts": [1, 2]})
    with pytest.raises(ValueError):
        Histogram([1.0, 0.5])


def test_round_trips_time_each_stage_once_from_sending() -> None:
    rt = RoundTrips([0.01, 0.1, 1.0])
    rt.sent("local-1", at=100.0)
    rt.reached("local-1", "approve", at=100.004)
    rt.rename("local-1", "ats:s1:7")
    rt.reached("ats:s1:7", "ack", at=100.05)
    rt.reached("ats:s1:7", "ack", at=100.5)  # a later status: counted once
    rt.reached("ats:s1:7", "fill", at=100.6)
    rt.reached("ats:s1:7", "fill", at=101.0)  # ended: not counted again
    out = rt.to_dict()
    assert out["approve"]["counts"] == [1, 0, 0, 0]
    assert out["ack"]["counts"] == [0, 1, 0, 0]
    assert out["fill"]["counts"] == [0, 0, 1, 0]


def test_cancelled_and_unknown_orders_are_not_timed() -> None:
    rt = RoundTrips()
    rt.sent("a", at=0.0)
    rt.forget("a")
    rt.reached("a", "ack", at=1.0)
    rt.reached("adopted-after-restart", "fill", at=1.0)
    assert all(h["count"] == 0 for h in rt.to_dict().values())
