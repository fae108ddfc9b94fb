import numpy as np
import pytest

from ats.sdk import ParamError, Stock, backtest
from ats.sdk.testkit import intraday_bars
from strategies.example import Example, ExampleParams, crossover_signal

SPY = Stock("SPY")


def test_crossover_signal():
    assert crossover_signal(2.0, 1.0) == 1
    assert crossover_signal(1.0, 2.0) == -1
    assert crossover_signal(1.0, 1.0) == 0


def test_fast_must_be_shorter_than_slow():
    with pytest.raises(ParamError):
        ExampleParams(fast=20, slow=20)


def test_trades_small_size_often_on_minute_bars():
    c = 100 + np.sin(np.arange(300) / 10.0)
    r = backtest.run(Example, {}, {SPY: intraday_bars(c, minutes=1)})
    assert len(r.fills) >= 4
    assert set(r.fills["quantity"].abs()) <= {10.0, 20.0}
    assert r.context.position(SPY) in (-10.0, 10.0)


def test_long_only_when_shorting_disabled():
    c = 100 + np.sin(np.arange(300) / 10.0)
    r = backtest.run(Example, {"allow_short": "false"}, {SPY: intraday_bars(c, minutes=1)})
    pos = np.cumsum(r.fills["quantity"].to_numpy())
    assert pos.min() >= 0 and pos.max() == 10
