"""A synthetic daily universe every shipped strategy can trade."""

import numpy as np
import pytest

from ats.sdk import Index, Stock
from ats.sdk.testkit import daily_bars, monthly_futures, random_walk, trading_days

STOCKS = ("ACWI", "SPY", "QQQ", "IWM", "SVXY", "XLK", "XLF", "XLE", "XLV", "XLI", "XLY",
          "XLP", "XLU", "XLB", "XLRE", "XLC", "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META",
          "TSLA", "KO", "PEP", "XOM", "CVX")
N_DAYS = 420


@pytest.fixture(scope="session")
def daily_universe():
    idx = trading_days("2022-06-01", N_DAYS)
    bars = {}
    for i, sym in enumerate(STOCKS):
        drift = 0.0008 * (((i + 3) % 5) - 2)  # ACWI up; a mix of trends elsewhere
        bars[Stock(sym)] = daily_bars(random_walk(N_DAYS, 100.0, 0.015, seed=i, drift=drift),
                                      index=idx)
    vix = 16 + 4 * np.sin(np.arange(N_DAYS) / 15.0)
    bars[Index("VIX")] = daily_bars(vix, index=idx)
    bars[Index("VIX3M")] = daily_bars(np.full(N_DAYS, 19.0), index=idx)
    bars[Index("SPX")] = daily_bars(random_walk(N_DAYS, 4000.0, 0.006, seed=99), index=idx)
    bars[Index("PCR")] = daily_bars(0.7 + 0.25 * np.sin(np.arange(N_DAYS) / 9.0), index=idx)
    bars.update(monthly_futures("VXM", idx, vix, slope=0.05))
    return bars
