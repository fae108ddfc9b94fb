"""The incremental indicators (ats.sdk.incremental) give, one value at a time, what pandas
computes over the whole series: property-tested over random series of prices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.sdk.incremental import EMA, RSI, SMA, RollingStd
from ats.sdk.indicators import rsi

#: prices as strategies see them: positive, far from zero, moving in small and large steps
PRICES = st.lists(st.floats(1.0, 10_000.0, allow_nan=False, allow_infinity=False),
                  min_size=1, max_size=300)
LENGTHS = st.integers(1, 40)


def fed(indicator: SMA | EMA | RSI | RollingStd, xs: list[float]) -> np.ndarray:
    """What `update` returned for each value in turn."""
    return np.array([indicator.update(x) for x in xs])


def same(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(xs=PRICES, n=LENGTHS)
def test_sma_is_the_rolling_mean(xs: list[float], n: int) -> None:
    same(fed(SMA(n), xs), pd.Series(xs).rolling(n).mean().to_numpy())


@settings(max_examples=100, deadline=None)
@given(xs=PRICES, span=LENGTHS)
def test_ema_is_the_unadjusted_exponential_mean(xs: list[float], span: int) -> None:
    same(fed(EMA(span), xs), pd.Series(xs).ewm(span=span, adjust=False).mean().to_numpy())


@settings(max_examples=100, deadline=None)
@given(xs=PRICES, n=LENGTHS)
def test_rsi_is_wilders_rsi_of_the_closes_so_far(xs: list[float], n: int) -> None:
    want = np.array([rsi(np.array(xs[: i + 1]), n) for i in range(len(xs))])
    same(fed(RSI(n), xs), want)


@settings(max_examples=100, deadline=None)
@given(xs=PRICES, n=LENGTHS)
def test_rsi_is_pandas_wilder_smoothing_seeded_with_the_first_means(xs: list[float],
                                                                     n: int) -> None:
    d = pd.Series(xs).diff().dropna()
    if len(d) < n:
        assert math.isnan(fed(RSI(n), xs)[-1])
        return
    up, dn = d.clip(lower=0.0), (-d).clip(lower=0.0)

    def wilder(s: pd.Series) -> pd.Series:
        seeded = pd.concat([pd.Series([s.iloc[:n].mean()]), s.iloc[n:]], ignore_index=True)
        return seeded.ewm(alpha=1.0 / n, adjust=False).mean()

    au, ad = wilder(up).to_numpy(), wilder(dn).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(ad == 0, np.where(au > 0, 100.0, 50.0), 100.0 - 100.0 / (1.0 + au / ad))
    same(fed(RSI(n), xs)[n:], want)


@settings(max_examples=100, deadline=None)
@given(xs=PRICES, n=st.integers(2, 40), ddof=st.sampled_from([0, 1]))
def test_rolling_std_is_the_rolling_standard_deviation(xs: list[float], n: int,
                                                        ddof: int) -> None:
    want = pd.Series(xs).rolling(n).std(ddof=ddof).to_numpy()
    got = fed(RollingStd(n, ddof), xs)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    # Differences of sums lose digits against the spread: absolute to the prices' scale.
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-7, atol=1e-7 * max(xs))


def test_rounding_does_not_build_up_over_a_long_series() -> None:
    rng = np.random.default_rng(5)
    xs = (100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, 200_000)))).tolist()
    sma, std = SMA(20), RollingStd(20)
    for x in xs:
        sma.update(x)
        std.update(x)
    tail = np.array(xs[-20:])
    assert sma.value == pytest.approx(tail.mean(), rel=1e-12)
    assert std.value == pytest.approx(tail.std(ddof=1), rel=1e-9)


def test_value_and_count_follow_the_updates() -> None:
    sma = SMA(3)
    assert math.isnan(sma.value) and sma.count == 0
    assert math.isnan(sma.update(1.0))
    assert sma.extend([2.0, 3.0]) == 2.0 == sma.value
    assert sma.update(7.0) == 4.0 and sma.count == 4


def test_numpy_values_give_python_floats() -> None:
    ema = EMA(3)
    ema.extend(np.array([1.0, 2.0, 3.0]))
    assert type(ema.value) is float
    sma = SMA(2)
    sma.extend(np.array([1.0, 2.0]))
    assert type(sma.update(np.float64(4.0))) is float


@pytest.mark.parametrize("make", [SMA, EMA, RSI, RollingStd])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_finite_is_refused_and_changes_nothing(make: type, bad: float) -> None:
    ind = make(3)
    ind.extend([1.0, 2.0, 3.0, 4.0])
    before = (ind.value, ind.count)
    with pytest.raises(ValueError, match=r"\.update needs a finite number, got"):
        ind.update(bad)
    assert (ind.value, ind.count) == before


@pytest.mark.parametrize("make", [SMA, EMA, RSI, RollingStd])
@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_a_length_that_is_not_a_positive_integer_is_refused(make: type, n: object) -> None:
    with pytest.raises(ValueError, match="length must be an integer >="):
        make(n)


def test_rolling_std_needs_more_values_than_its_ddof() -> None:
    with pytest.raises(ValueError, match="RollingStd length must be an integer >= 2"):
        RollingStd(1)
    assert RollingStd(1, ddof=0).update(5.0) == 0.0
    with pytest.raises(ValueError, match="ddof must be 0 or 1"):
        RollingStd(5, ddof=2)
