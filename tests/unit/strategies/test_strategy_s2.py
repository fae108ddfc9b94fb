import numpy as np
import pytest

from ats.sdk import Stock, backtest
from ats.sdk.testkit import daily_bars
from strategies.s2 import (
    FLAT,
    LONG_SPREAD,
    S2,
    SHORT_SPREAD,
    STOPPED,
    S2Params,
    leg_quantities,
    s2_next_state,
    s2_signal,
)

KO, PEP = Stock("KO"), Stock("PEP")
P = S2Params(window=30, entry_z=2.0, exit_z=0.5, stop_z=4.0)


def pair(n=120, seed=1):
    rng = np.random.default_rng(seed)
    b = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    noise = rng.normal(0, 0.002, n)
    a = 50 * (b / 100) ** 1.5 * np.exp(noise)
    return a, b


def test_signal_recovers_the_hedge_ratio():
    a, b = pair()
    beta, z = s2_signal(a, b, 60)
    assert beta == pytest.approx(1.5, abs=0.1)
    assert abs(z) < 3


def test_z_score_jumps_when_a_leg_dislocates():
    a, b = pair()
    a = a.copy()
    a[-1] *= 1.03
    _, z = s2_signal(a, b, 60)
    assert z > 2


def test_state_machine_enters_at_2_exits_near_0_and_stops_at_4():
    assert s2_next_state(FLAT, 2.1, P) == SHORT_SPREAD
    assert s2_next_state(FLAT, -2.1, P) == LONG_SPREAD
    assert s2_next_state(FLAT, 1.9, P) == FLAT
    assert s2_next_state(SHORT_SPREAD, 1.0, P) == SHORT_SPREAD
    assert s2_next_state(SHORT_SPREAD, 0.3, P) == FLAT
    assert s2_next_state(LONG_SPREAD, -4.5, P) == STOPPED
    assert s2_next_state(STOPPED, 2.5, P) == STOPPED
    assert s2_next_state(STOPPED, 0.1, P) == FLAT


def test_legs_hold_beta_times_a_in_b_on_the_other_side():
    qa, qb = leg_quantities(SHORT_SPREAD, 50.0, 100.0, 10_000.0, beta=0.5)
    assert (qa, qb) == (-200.0, 50.0)  # $10,000 of A against $5,000 of B
    qa, qb = leg_quantities(LONG_SPREAD, 50.0, 100.0, 10_000.0, beta=2.0)
    assert (qa, qb) == (100.0, -100.0)  # the larger leg (B) is the notional
    assert leg_quantities(SHORT_SPREAD, 50.0, 100.0, 10_000.0, beta=1.0) == (-200.0, 100.0)
    assert leg_quantities(FLAT, 50.0, 100.0, 10_000.0) == (0.0, 0.0)
    assert leg_quantities(LONG_SPREAD, 50.0, 100.0, 10_000.0, beta=float("nan")) == (0.0, 0.0)


def test_backtest_enters_on_dislocation_and_exits_on_reversion():
    a, b = pair(100)
    a = a.copy()
    a[70:75] *= 1.04  # A rich for five days, then back in line
    r = backtest.run(S2, P, {KO: daily_bars(a), PEP: daily_bars(b)}, cash=100_000.0)
    f = r.fills
    first = f[f["time"] == f["time"].iloc[0]].set_index("instrument")["quantity"]
    assert first["KO.STK"] < 0 < first["PEP.STK"]  # short the spread: sell A, buy B
    ko_value = abs(first["KO.STK"]) * a[70]
    pep_value = first["PEP.STK"] * b[70]
    beta, _ = s2_signal(a[:71], b[:71], P.window)  # what it measured at the decision
    assert pep_value == pytest.approx(beta * ko_value, rel=0.05)
    assert max(ko_value, pep_value) == pytest.approx(0.5 * 100_000, rel=0.05)
    assert r.context.positions() == {}  # exited after the reversion
