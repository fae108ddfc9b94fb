import math

import numpy as np

from ats.sdk import Index, Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.pea_oss import PeaOss, PeaOssParams, pcr_oscillator, pea_oss_exposure

SPY, PCR = Stock("SPY"), Index("PCR")
P = PeaOssParams(window=20, smooth=2, reduced_exposure=0.25)


def test_oscillator_is_high_after_a_put_buying_spike():
    pcr = np.r_[np.full(30, 0.6) + 0.01 * np.sin(np.arange(30)), [1.2, 1.3]]
    assert pcr_oscillator(pcr, 2, 20) > 2
    assert math.isnan(pcr_oscillator(pcr[:10], 2, 20))


def test_exposure_is_contrarian_with_hysteresis():
    assert pea_oss_exposure(1.5, 0.0, P) == 1.0  # fear: long
    assert pea_oss_exposure(-1.5, 1.0, P) == 0.25  # complacency: reduce
    assert pea_oss_exposure(0.2, 1.0, P) == 1.0  # in between: keep
    assert pea_oss_exposure(float("nan"), 0.5, P) == 0.5


def run(pcr):
    n = len(pcr)
    return backtest.run(PeaOss, P, {PCR: daily_bars(pcr), SPY: daily_bars(np.full(n, 100.0))},
                        cash=100_000.0, commission_per_share=0.0)


def test_buys_the_etf_on_fear_then_reduces_on_complacency():
    calm = 0.7 + 0.02 * np.sin(np.arange(40))
    fear = np.full(5, 1.3)
    back = 0.7 + 0.02 * np.sin(np.arange(15))
    greed = np.full(5, 0.35)
    r = run(np.r_[calm, fear, back, greed])
    q = r.fills["quantity"].tolist()
    assert q[0] == 1000  # 100% of 100_000 at 100
    assert q[1] == -750  # down to 25%
    assert r.context.position(SPY) == 250


def test_never_orders_the_put_call_index():
    r = run(np.r_[0.7 + 0.02 * np.sin(np.arange(40)), np.full(5, 1.3)])
    assert set(r.fills["instrument"]) == {"SPY.STK"}
