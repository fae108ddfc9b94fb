import numpy as np
import pandas as pd
import pytest

from ats.sdk import Future, Index, backtest
from ats.sdk.testkit import daily_bars, trading_days
from strategies.short_vix import (
    ShortVix,
    ShortVixParams,
    choose_contract,
    in_contango,
    variance_risk_premium,
)

VIX, SPX = Index("VIX"), Index("SPX")
JAN, FEB, MAR = (Future("VXM", e) for e in ("20240117", "20240214", "20240319"))


def test_vrp_is_vix_minus_realized_vol_in_points():
    flat = 100 * 1.001 ** np.arange(30)  # zero realized vol
    assert variance_risk_premium(15.0, flat, 21) == pytest.approx(15.0)
    rng = np.random.default_rng(0)
    wild = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, 30)))  # ~48% vol
    assert variance_risk_premium(15.0, wild, 21) < 0


def test_contango_compares_front_and_second():
    assert in_contango(14.0, [15.0, 16.0])
    assert not in_contango(14.0, [16.0, 15.0])
    assert in_contango(14.0, [15.0]) and not in_contango(16.0, [15.0])


def test_contract_choice_by_roll_yield_skips_contracts_near_expiry():
    now = pd.Timestamp("2024-01-03 20:00", tz="UTC")
    quotes = [(JAN, 16.0), (FEB, 17.0), (MAR, 17.5)]
    # roll yield/day: JAN (16-14)/16/14 = .0089, FEB (17-14)/17/42 = .0042
    assert choose_contract(14.0, quotes, now, 5) == JAN
    late = pd.Timestamp("2024-01-12 20:00", tz="UTC")  # JAN 5 days out: not eligible
    assert choose_contract(14.0, quotes, late, 5) == FEB


def scenario(vix_level=14.0, curve=(15.0, 16.0, 16.5), days=12):
    idx = trading_days("2024-01-02", days)
    spx = 4700 * 1.0005 ** np.arange(days + 25)
    spx_idx = trading_days("2023-11-24", days + 25)
    bars = {VIX: daily_bars(np.full(days, vix_level), index=idx),
            SPX: daily_bars(spx, index=spx_idx)}
    for fut, px in zip((JAN, FEB, MAR), curve, strict=True):
        exp = pd.Timestamp(fut.expiry, tz="UTC")
        live = idx[idx <= exp]
        bars[fut] = daily_bars(np.full(len(live), px), index=live)
    return bars


def test_shorts_vxm_sized_from_weight_and_rolls_at_n_days_to_expiry():
    r = backtest.run(ShortVix, ShortVixParams(roll_days=5, exposure=0.1),
                     scenario(), cash=500_000.0)
    f = r.fills
    jan = f[f["instrument"] == JAN.key]
    feb = f[f["instrument"] == FEB.key]
    # 10% of 500_000 / (15 * 100) = 33.3 -> 33 contracts
    assert jan["quantity"].iloc[0] == -33
    assert jan["quantity"].sum() == 0  # closed by the roll
    roll_day = jan["time"].iloc[-1]
    # decided on Jan 12 (5 days to the 17th), filled at the next open
    assert roll_day.strftime("%Y-%m-%d") == "2024-01-16"
    assert feb["time"].iloc[0] == roll_day and feb["quantity"].iloc[0] < 0
    assert r.context.position(FEB) == feb["quantity"].sum() < 0


def test_flat_in_backwardation():
    r = backtest.run(ShortVix, {}, scenario(vix_level=25.0, curve=(22.0, 20.0, 19.0)))
    assert r.fills.empty


def test_flat_when_realized_vol_exceeds_vix():
    bars = scenario(vix_level=10.0)
    rng = np.random.default_rng(1)
    spx = bars[SPX]
    bars[SPX] = daily_bars(4700 * np.exp(np.cumsum(rng.normal(0, 0.03, len(spx)))),
                           index=spx.index)
    r = backtest.run(ShortVix, {}, bars)
    assert r.fills.empty


def test_no_short_when_the_capital_pays_for_less_than_one_contract(caplog):
    # 10% of 10_000 / (15 * 100) = 0.67 contracts: nothing, not one contract
    with caplog.at_level("WARNING"):
        r = backtest.run(ShortVix, ShortVixParams(exposure=0.1), scenario(), cash=10_000.0)
    assert r.fills.empty
    assert "buys fewer than 1 contracts" in caplog.text


def test_capital_for_one_contract_shorts_exactly_one():
    # 10% of 15_000 / (15 * 100) = 1 contract
    r = backtest.run(ShortVix, ShortVixParams(exposure=0.1), scenario(), cash=15_000.0)
    assert r.fills["quantity"].iloc[0] == -1
