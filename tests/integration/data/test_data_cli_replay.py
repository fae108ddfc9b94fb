"""import / list / show / backtest through ats-ctl, and the simulator replaying stored bars."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from pinned import SESSION, SESSION_TS

from ats.config import Config
from ats.data.store import BarStore
from ats.ib import adapter
from ats.sim.process import SimProcess

pytestmark = pytest.mark.timeout(120)


def write_csv(path: Path, days: int = 30, base: float = 50.0) -> pd.DataFrame:
    idx = pd.bdate_range(end=SESSION_TS.normalize() - pd.Timedelta(days=1), periods=days)
    close = base + np.arange(days, dtype=float)
    df = pd.DataFrame({"open": close - 0.5, "high": close + 1, "low": close - 1,
                       "close": close, "volume": np.full(days, 1e6)}, index=idx)
    out = df.copy()
    out.index = out.index.strftime("%Y-%m-%d")
    out.to_csv(path, index_label="date")
    return df


def test_import_list_and_show(ctl: Callable[..., Result], home: Config,
                              tmp_path: Path) -> None:
    csv = tmp_path / "spy.csv"
    df = write_csv(csv)
    result = ctl("data", "import", str(csv))
    assert result.exit_code == 0, result.output
    assert "imported 30 new bars into SPY.1d" in result.output
    again = ctl("data", "import", str(csv), "--symbol", "SPY", "--bar", "1d")
    assert "imported 0 new bars" in again.output

    listed = json.loads(ctl("data", "list", "--json").output)
    assert [(r["symbol"], r["bar"], r["rows"]) for r in listed] == [("SPY", "1d", 30)]
    assert "SPY" in ctl("data", "list").output

    chart = tmp_path / "spy.png"
    shown = ctl("data", "show", "SPY", "--tail", "5", "--plot", str(chart))
    assert shown.exit_code == 0, shown.output
    assert f"{df['close'].iloc[-1]:,.2f}" in shown.output
    assert len([line for line in shown.output.splitlines() if line[:2] == "20"]) == 5
    assert chart.stat().st_size > 1000 and chart.read_bytes()[:4] == b"\x89PNG"


def test_import_of_a_bad_file_names_the_line(ctl: Callable[..., Result],
                                             tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,1,1,1\n2024-01-03,1,2,x,1,1\n")
    result = ctl("data", "import", str(csv), "--symbol", "SPY")
    assert result.exit_code != 0
    assert "bad.csv:3" in result.output and "low" in result.output


def test_show_of_a_missing_series_says_how_to_fetch_it(ctl: Callable[..., Result]) -> None:
    result = ctl("data", "show", "QQQ")
    assert result.exit_code != 0
    assert "ats-ctl data fetch QQQ --bar 1d" in result.output


def test_backtest_of_ltmt_over_fetched_data_yields_an_equity_curve(
        ctl: Callable[..., Result], tmp_path: Path) -> None:
    missing = ctl("backtest", "ltmt")
    assert missing.exit_code != 0
    assert "ACWI.1d" in missing.output and "ats-ctl data fetch ACWI" in missing.output

    assert ctl("data", "fetch", "ACWI", "--duration", "3y").exit_code == 0
    chart = tmp_path / "equity.png"
    result = ctl("backtest", "ltmt", "--json", "--plot", str(chart))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["bars"] > 700
    assert summary["fills"] >= 1  # long at some month end over three years
    assert summary["final_equity"] > 0 and 0 <= summary["max_drawdown_pct"] < 100
    assert chart.read_bytes()[:4] == b"\x89PNG"

    later = ctl("backtest", "ltmt", "--start",
                (SESSION_TS - pd.DateOffset(years=1)).strftime("%Y-%m-%d"),
                "--param", "ma_months=6", "--cash", "50000")
    assert later.exit_code == 0, later.output
    assert "final_equity" in later.output


def test_backtest_refuses_unknown_parameters(ctl: Callable[..., Result]) -> None:
    result = ctl("backtest", "ltmt", "--param", "nope=1")
    assert result.exit_code != 0 and "nope" in result.output


def test_the_simulator_replays_imported_bars(ctl: Callable[..., Result], home: Config,
                                             tmp_path: Path) -> None:
    df = write_csv(tmp_path / "SPY.csv", days=20, base=123.0)
    assert ctl("data", "import", str(tmp_path / "SPY.csv")).exit_code == 0
    assert len(BarStore(home.arctic_uri).read("SPY.1d")) == 20
    with SimProcess(seed=3, start=SESSION, extra_args=["--arctic", home.arctic_uri]) as replay:
        ib = adapter.IB()
        ib.connect(replay.host, replay.port, clientId=1, timeout=10)
        try:
            bars = ib.reqHistoricalData(adapter.Stock("SPY", "SMART", "USD"), "", "60 D",
                                        "1 day", "TRADES", useRTH=True)
        finally:
            ib.disconnect()
    closes = [b.close for b in bars]
    assert closes[-21:-1] == pytest.approx(df["close"].tolist())
    # the session after the last stored bar goes on from its close, on the synthetic path
    assert bars[-1].date == SESSION_TS.date()
    assert closes[-1] == pytest.approx(closes[-2], rel=0.05)
