import numpy as np

from ats.sdk import Stock, Weights, backtest
from ats.sdk.testkit import daily_bars
from strategies.ltmt import Ltmt, LtmtParams, ltmt_signal, month_end_closes

ACWI = Stock("ACWI")


def test_signal_long_above_the_ten_month_average_and_flat_below():
    rising = np.arange(1.0, 13.0)
    assert ltmt_signal(rising, 10) is True
    assert ltmt_signal(rising[::-1], 10) is False
    assert ltmt_signal(rising[:5], 10) is None


def test_signal_is_flat_at_the_average_and_uses_only_the_last_ma_months():
    assert ltmt_signal(np.full(10, 50.0), 10) is False  # at the average: flat
    # the crash 11 months back is outside a 10-month window: above the average
    assert ltmt_signal(np.r_[1000.0, np.arange(1.0, 11.0)], 10) is True
    # ... and inside an 11-month one: below it
    assert ltmt_signal(np.r_[1000.0, np.arange(1.0, 11.0)], 11) is False
    assert ltmt_signal(np.arange(1.0, 11.0), 10) is True  # exactly enough history


def test_month_end_closes_take_the_last_session_of_each_month():
    # 60 sessions from 2024-01-02: January and February whole, March to the 27th
    df = daily_bars(np.arange(1.0, 61.0), start="2024-01-02")
    m = month_end_closes(df["close"])
    assert [t.strftime("%Y-%m-%d") for t in m.index] == ["2024-01-31", "2024-02-29",
                                                         "2024-03-27"]
    assert list(m) == [21.0, 41.0, 60.0]  # the closes of those sessions


def run(closes):
    return backtest.run(Ltmt, LtmtParams(ma_months=3), {ACWI: daily_bars(closes)},
                        cash=100_000.0, weights=Weights(target=1.0, min=0.9, max=1.0))


def test_buys_at_month_end_in_an_uptrend_sized_to_the_target_weight():
    closes = np.linspace(100, 200, 120)
    r = run(closes)
    first = r.fills.iloc[0]
    assert first["quantity"] > 0
    # the first signal needs three month ends; the order fills at the next open
    assert first["time"].strftime("%Y-%m") == "2020-04"
    # sized at 15:45 of March's last session from the price then known: that session's open
    bars = daily_bars(closes)
    seen = bars.loc[bars.index < first["time"], "open"].iloc[-1]
    value = first["quantity"] * seen
    assert 0.9 * 100_000 < value <= 100_000


def test_goes_flat_when_the_month_end_close_falls_below_the_average():
    closes = np.r_[np.linspace(100, 200, 100), np.linspace(200, 120, 80)]
    r = run(closes)
    assert r.fills["quantity"].iloc[0] > 0
    assert r.context.position(ACWI) == 0
    assert r.fills["quantity"].sum() == 0


def test_stays_flat_in_a_downtrend():
    r = run(np.linspace(200, 100, 150))
    assert r.fills.empty


def test_rebalances_back_to_target_only_when_weight_leaves_the_band():
    # a rally lifts a 50% holding above the [45%, 55%] band, so it is trimmed back
    closes = np.r_[np.linspace(100, 110, 70), np.linspace(110, 200, 60)]
    r = backtest.run(Ltmt, LtmtParams(ma_months=3), {ACWI: daily_bars(closes)},
                     cash=100_000.0, weights=Weights(target=0.5, min=0.45, max=0.55))
    sells = r.fills[r.fills["quantity"] < 0]
    assert len(sells) >= 1  # trimmed back to 50% as the price rose
    eq = r.equity.iloc[-1]
    held = r.context.position(ACWI) * closes[-1]
    assert 0.45 <= held / eq <= 0.56


def test_state_survives_save_and_load():
    r = run(np.linspace(100, 200, 120))
    state = r.strategy.save_state()
    assert state["user"] == {"long": True}  # on_save's own part
    fresh = Ltmt("ltmt", LtmtParams(), r.context)
    assert fresh.long is False  # before load_state
    fresh.load_state(state)
    assert fresh.long is True
