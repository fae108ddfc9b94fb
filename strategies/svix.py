"""SVIX: short volatility or flat by VIX term-structure regime.

Logic: each day before the close compute the term-structure ratio VIX / VIX3M, smoothed as the
mean of the last `smooth` days. In contango (ratio < `enter_ratio`) volatility sellers are
paid: hold the inverse-VIX ETF (`symbol`, SVXY by default) at `exposure` x capital. When the
ratio reaches `exit_ratio` (flat or inverted curve, backwardation) go flat. Between the two
thresholds keep the current regime, so the position does not flip-flop near the boundary.

Parameters (defaults): vix VIX, vix3m VIX3M, symbol SVXY, smooth 3, enter_ratio 0.92,
exit_ratio 1.0, exposure 1.0.
Universe: SVXY (traded), VIX and VIX3M indices (watched). Data: daily bars.
Schedule: before_close daily.

Edge cases (tests/unit/strategies/test_edge_cases.py): each day it orders the difference to its
regime's exposure, so a refused order is tried again, and a partly filled one topped up, at
the next day's decision (within `tolerance`). After a restart the saved regime keeps the
position as it was. A missing bar: the VIX/VIX3M ratio uses only the days both indices have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ats.sdk import BarSpec, Index, ParamError, Params, Stock, Strategy, param

FLAT, SHORT_VOL = 0, 1


@dataclass(frozen=True)
class SvixParams(Params):
    vix: str = param("VIX", "spot VIX index")
    vix3m: str = param("VIX3M", "3-month VIX index")
    symbol: str = param("SVXY", "inverse-VIX ETF held when short volatility")
    smooth: int = param(3, "days averaged in the VIX/VIX3M ratio", min=1)
    enter_ratio: float = param(0.92, "go short volatility below this ratio", min=0.5, max=1.5)
    exit_ratio: float = param(1.0, "go flat at or above this ratio", min=0.5, max=1.5)
    exposure: float = param(1.0, "fraction of capital held when short volatility", min=0.0,
                            max=1.0)
    tolerance: float = param(0.02, "skip resizes below this fraction of capital",
                             min=0.0, max=0.5)
    minutes_before_close: int = param(15, "daily decision time before the close", min=1)

    def validate(self) -> None:
        if self.enter_ratio >= self.exit_ratio:
            raise ParamError("enter_ratio", f"must be < exit_ratio ({self.exit_ratio})")


def term_structure_ratio(vix: np.ndarray, vix3m: np.ndarray, smooth: int) -> float:
    """Mean of VIX/VIX3M over the last `smooth` days (NaN if too short)."""
    n = min(len(vix), len(vix3m))
    if n < smooth:
        return float("nan")
    return float(np.mean(np.asarray(vix[-smooth:]) / np.asarray(vix3m[-smooth:])))


def svix_regime(ratio: float, current: int, p: SvixParams) -> int:
    """SHORT_VOL below enter_ratio, FLAT at or above exit_ratio, else unchanged."""
    if ratio != ratio:
        return current
    if ratio < p.enter_ratio:
        return SHORT_VOL
    if ratio >= p.exit_ratio:
        return FLAT
    return current


class Svix(Strategy[SvixParams]):
    params_type = SvixParams
    sizes_by_weight = True
    description = "Short volatility via SVXY in VIX contango, flat in backwardation"

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        n = p.smooth + 5
        return [BarSpec(Index(p.vix), "1d", n), BarSpec(Index(p.vix3m), "1d", n),
                BarSpec(Stock(p.symbol), "1d", 2)]

    def on_init(self) -> None:
        self.vix = Index(self.params.vix)
        self.vix3m = Index(self.params.vix3m)
        self.inst = Stock(self.params.symbol)
        self.regime = FLAT

    def on_start(self) -> None:
        self.schedule.before_close(self.daily, minutes=self.params.minutes_before_close)

    def daily(self) -> None:
        p = self.params
        vix, vix3m = self.aligned_closes(self.vix, self.vix3m)  # same days in the ratio
        ratio = term_structure_ratio(vix, vix3m, p.smooth)
        new = svix_regime(ratio, self.regime, p)
        if new != self.regime:
            self.log.info("VIX/VIX3M %.3f: regime %d -> %d", ratio, self.regime, new)
        self.regime = new
        if new == SHORT_VOL:
            self.order_target_percent(self.inst, p.exposure, tolerance=p.tolerance)
        else:
            self.flatten(self.inst)

    def on_save(self) -> dict[str, object]:
        return {"regime": self.regime}

    def on_load(self, state: dict[str, object]) -> None:
        value = state.get("regime", FLAT)
        self.regime = value if isinstance(value, int) else FLAT

    def on_stop(self) -> None:
        self.log.info("svix stopped in regime %d", self.regime)
