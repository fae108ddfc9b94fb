"""PEA_OSS: a contrarian put/call ratio oscillator on an index ETF.

Logic: each day before the close, smooth the daily equity put/call ratio (index `PCR` on
CBOE) with an EMA of `smooth` days, then take the z-score of the smoothed value over `window`
days (the oscillator). The oscillator is contrarian:
- oscillator >= `fear_z` (heavy put buying, extreme fear): hold the ETF at full exposure;
- oscillator <= `complacent_z` (call buying, complacency): reduce to `reduced_exposure`;
- in between: keep the current exposure (hysteresis, so the position does not churn).
Exposure is a fraction of the strategy's capital (target weight x account equity).

Parameters (defaults): pcr_symbol PCR, symbol SPY, smooth 5, window 60, fear_z 1.0,
complacent_z -1.0, reduced_exposure 0.0, initial_exposure 0.0.
Universe: SPY (traded), PCR (index, watched). Data: daily bars, window + smooth sessions.
Schedule: before_close daily.

Edge cases (tests/unit/strategies/test_edge_cases.py): each day it orders the difference to
its exposure, so a refused order is tried again, and a partly filled one topped up, at the next
day's decision (within `tolerance`). After a restart the saved exposure keeps the position as
it was. A missing bar: the oscillator uses the put/call days it has; SPY is sized from its
last price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ats.sdk import BarSpec, Index, ParamError, Params, Stock, Strategy, param
from ats.sdk.indicators import ema_series, zscore


@dataclass(frozen=True)
class PeaOssParams(Params):
    pcr_symbol: str = param("PCR", "put/call ratio index (CBOE)")
    symbol: str = param("SPY", "index ETF to trade")
    smooth: int = param(5, "EMA span smoothing the ratio (days)", min=1)
    window: int = param(60, "z-score window (days)", min=5)
    fear_z: float = param(1.0, "oscillator at or above this: full exposure")
    complacent_z: float = param(-1.0, "oscillator at or below this: reduced exposure")
    reduced_exposure: float = param(0.0, "exposure when complacent", min=0.0, max=1.0)
    initial_exposure: float = param(0.0, "exposure before the first signal", min=0.0, max=1.0)
    tolerance: float = param(0.02, "skip resizes below this fraction of capital",
                             min=0.0, max=0.5)
    minutes_before_close: int = param(15, "daily decision time before the close", min=1)

    def validate(self) -> None:
        if self.complacent_z >= self.fear_z:
            raise ParamError("complacent_z", f"must be < fear_z ({self.fear_z})")


def pcr_oscillator(pcr: np.ndarray, smooth: int, window: int) -> float:
    """z-score of the EMA-smoothed put/call ratio over `window` days (NaN if too short)."""
    if len(pcr) < window:
        return float("nan")
    return zscore(ema_series(np.asarray(pcr, dtype=float), smooth), window)


def pea_oss_exposure(oscillator: float, current: float, p: PeaOssParams) -> float:
    """Target exposure in [0, 1] from the oscillator, keeping `current` between thresholds."""
    if oscillator != oscillator:  # NaN: not enough data
        return current
    if oscillator >= p.fear_z:
        return 1.0
    if oscillator <= p.complacent_z:
        return p.reduced_exposure
    return current


class PeaOss(Strategy[PeaOssParams]):
    params_type = PeaOssParams
    sizes_by_weight = True
    description = "Contrarian put/call ratio oscillator on SPY"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        n = p.window + 3 * p.smooth + 5
        return [BarSpec(Index(p.pcr_symbol), "1d", n), BarSpec(Stock(p.symbol), "1d", 2)]

    def on_init(self) -> None:
        self.pcr = Index(self.params.pcr_symbol)
        self.inst = Stock(self.params.symbol)
        self.exposure = self.params.initial_exposure

    def on_start(self) -> None:
        self.schedule.before_close(self.daily, minutes=self.params.minutes_before_close)

    def daily(self) -> None:
        p = self.params
        osc = pcr_oscillator(self.closes(self.pcr), p.smooth, p.window)
        new = pea_oss_exposure(osc, self.exposure, p)
        if new != self.exposure:
            self.log.info("oscillator %.2f: exposure %.2f -> %.2f", osc, self.exposure, new)
        self.exposure = new
        self.order_target_percent(self.inst, self.exposure, tolerance=p.tolerance)

    def on_save(self) -> dict[str, object]:
        return {"exposure": self.exposure}

    def on_load(self, state: dict[str, object]) -> None:
        value = state.get("exposure", self.exposure)
        self.exposure = float(value) if isinstance(value, int | float) else self.exposure

    def on_stop(self) -> None:
        self.log.info("pea_oss stopped at exposure %.2f", self.exposure)
