import numpy as np

from ats.sdk import Index, Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.svix import FLAT, SHORT_VOL, Svix, SvixParams, svix_regime, term_structure_ratio

VIX, VIX3M, SVXY = Index("VIX"), Index("VIX3M"), Stock("SVXY")
P = SvixParams()


def test_ratio_is_smoothed_over_the_last_days():
    assert term_structure_ratio(np.array([10, 20, 30.0]), np.array([20, 20, 20.0]), 2) == 1.25


def test_regime_short_vol_in_contango_flat_in_backwardation_with_hysteresis():
    assert svix_regime(0.85, FLAT, P) == SHORT_VOL
    assert svix_regime(1.05, SHORT_VOL, P) == FLAT
    assert svix_regime(0.96, SHORT_VOL, P) == SHORT_VOL
    assert svix_regime(0.96, FLAT, P) == FLAT


def test_backtest_holds_svxy_in_contango_and_exits_on_inversion():
    n1, n2 = 30, 10
    vix = np.r_[np.full(n1, 14.0), np.full(n2, 30.0)]
    vix3m = np.r_[np.full(n1, 17.0), np.full(n2, 25.0)]
    svxy = np.full(n1 + n2, 50.0)
    r = backtest.run(Svix, {}, {VIX: daily_bars(vix), VIX3M: daily_bars(vix3m),
                                SVXY: daily_bars(svxy)}, cash=100_000.0)
    q = r.fills["quantity"].tolist()
    assert q[0] == 2000  # 100% of capital at 50
    assert q[-1] == -2000 and r.context.position(SVXY) == 0
    assert set(r.fills["instrument"]) == {"SVXY.STK"}
