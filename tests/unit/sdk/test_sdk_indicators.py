import math

import numpy as np

from ats.sdk import indicators as ind


def test_sma_and_series_agree():
    x = np.arange(1.0, 11.0)
    assert ind.sma(x, 3) == 9.0
    assert math.isnan(ind.sma(x, 20))
    s = ind.sma_series(x, 3)
    assert math.isnan(s[1]) and s[2] == 2.0 and s[-1] == 9.0


def test_rsi_is_100_on_rises_and_0_on_falls():
    assert ind.rsi(np.arange(1.0, 20.0), 3) == 100.0
    assert ind.rsi(np.arange(20.0, 1.0, -1), 3) == 0.0
    assert 0 < ind.rsi(np.array([1, 2, 1, 2, 1, 2, 1.5]), 3) < 100


def test_atr_of_constant_range_bars():
    n = 30
    close = np.full(n, 100.0)
    assert ind.atr(close + 1, close - 1, close, 20) == 2.0


def test_zscore_and_percent_rank():
    x = np.r_[np.zeros(9), 10.0]
    assert ind.zscore(x, 10) > 2.5
    assert ind.percent_rank(np.arange(10.0), 10) == 1.0
    assert math.isnan(ind.zscore(np.ones(10), 10))


def test_ols_beta_recovers_slope():
    x = np.arange(10.0)
    alpha, beta = ind.ols_beta(3 + 2 * x, x)
    assert math.isclose(beta, 2.0) and math.isclose(alpha, 3.0)


def test_realized_vol_is_zero_for_a_constant_growth_path():
    closes = 100 * 1.01 ** np.arange(30)
    assert ind.realized_vol(closes, 21) < 1e-9
    assert math.isclose(ind.pct_return(closes, 1), 0.01)
