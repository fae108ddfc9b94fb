"""short_vix: short the VXM future when the variance risk premium is positive in contango.

Logic: each day before the close
- VRP = VIX - realized volatility of SPX over `rv_days` days (annualised, in vol points);
- contango = the front future is below the second (or above spot VIX with only one listed);
- active when VRP > `min_vrp` and the curve is in contango, else flat (all VXM closed).
When active, hold a short in the contract with the best roll yield per day,
(F - VIX) / F / days_to_expiry, among listed contracts more than `roll_days` calendar days from
expiry. A held contract is kept until it is within `roll_days` of expiry, then rolled into the
best contract (close old, open new the same day). The short is sized from the weight:
contracts = trunc(exposure x capital / (price x multiplier)); none when that is fewer than
`min_contracts` (it never shorts more than its capital pays for).

Parameters (defaults): symbol VXM, vix VIX, spx SPX, rv_days 21, min_vrp 0.0, roll_days 5,
exposure 0.1, min_contracts 1, max_contracts 50, chain_size 3.
Universe: VXM monthly futures (CFE, multiplier 100), VIX and SPX indices.
Data: daily bars of VIX, SPX and the `chain_size` nearest contracts listed at start (their
last prices drive the choice). Schedule: before_close daily.

Edge cases (tests/unit/strategies/test_edge_cases.py): each day it orders the difference to its
target contracts and closes every other contract the book holds, so a refused short or close
is tried again, and a partly filled one topped up, at the next day's decision. After a restart
the saved contract and the book keep the position as it was. A missing bar: VIX is read at its
last price, realized volatility uses the SPX bars it has, and a contract without a price is
left out of the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ats.sdk import BarSpec, Future, Index, Instrument, Params, Strategy, days_to_expiry, param
from ats.sdk.indicators import realized_vol


@dataclass(frozen=True)
class ShortVixParams(Params):
    symbol: str = param("VXM", "VIX future to short (VXM mini, or VX)")
    vix: str = param("VIX", "spot VIX index")
    spx: str = param("SPX", "index whose realized volatility sets the premium")
    rv_days: int = param(21, "realized volatility window (days)", min=5)
    min_vrp: float = param(0.0, "short only when VIX - realized vol exceeds this (vol points)")
    roll_days: int = param(5, "roll when this many calendar days or fewer to expiry", min=0)
    exposure: float = param(0.1, "short notional as a fraction of capital", min=0.0, max=2.0)
    min_contracts: int = param(1, "smallest position when active; fewer: none", min=0)
    max_contracts: int = param(50, "largest position", min=1)
    chain_size: int = param(3, "nearest listed contracts considered", min=1)
    minutes_before_close: int = param(15, "daily decision time before the close", min=1)


def variance_risk_premium(vix: float, spx_closes: np.ndarray, rv_days: int) -> float:
    """VIX minus the annualised realized volatility of SPX, both in vol points."""
    rv = realized_vol(spx_closes, rv_days)
    return float("nan") if math.isnan(rv) else vix - 100.0 * rv


def in_contango(vix: float, curve: list[float]) -> bool:
    """True when futures prices (by expiry) rise: front < second, or front > VIX if alone."""
    if not curve:
        return False
    if len(curve) == 1:
        return curve[0] > vix
    return curve[0] < curve[1]


def choose_contract(vix: float, quotes: list[tuple[Instrument, float]], now: pd.Timestamp,
                    roll_days: int) -> Instrument | None:
    """The contract with the highest roll yield per day among those beyond `roll_days`."""
    best: tuple[float, Instrument] | None = None
    for inst, price in quotes:
        days = days_to_expiry(inst, now)
        if days <= roll_days or price <= 0:
            continue
        roll_yield = (price - vix) / price / days
        if best is None or roll_yield > best[0]:
            best = (roll_yield, inst)
    return None if best is None else best[1]


class ShortVix(Strategy[ShortVixParams]):
    params_type = ShortVixParams
    sizes_by_weight = True
    description = "Short VXM on a positive variance risk premium in contango; roll by yield"

    @property
    def futures_symbols(self) -> tuple[str, ...]:
        return (self.params.symbol,)

    def subscriptions(self) -> list[BarSpec]:
        p = self.params
        chain = self.ctx.futures_chain(p.symbol)[: p.chain_size]
        return [BarSpec(Index(p.vix), "1d", 5), BarSpec(Index(p.spx), "1d", p.rv_days + 5),
                *(BarSpec(c, "1d", 2) for c in chain)]

    def on_init(self) -> None:
        self.vix = Index(self.params.vix)
        self.spx = Index(self.params.spx)
        self.held: Instrument | None = None

    def on_start(self) -> None:
        self.schedule.before_close(self.daily, minutes=self.params.minutes_before_close)

    def quotes(self) -> list[tuple[Instrument, float]]:
        out = []
        for inst in self.ctx.futures_chain(self.params.symbol)[: self.params.chain_size]:
            px = self.ctx.last_price(inst)
            if px is not None and px > 0:
                out.append((inst, px))
        return out

    def held_contracts(self) -> list[Instrument]:
        chain = {i.key: i for i in self.ctx.futures_chain(self.params.symbol)}
        if self.held is not None:
            chain.setdefault(self.held.key, self.held)
        return [i for k, i in chain.items() if self.ctx.positions().get(k)]

    def daily(self) -> None:
        p = self.params
        vix = self.price(self.vix)
        quotes = self.quotes()
        if vix is None or not quotes:
            return
        vrp = variance_risk_premium(vix, self.closes(self.spx), p.rv_days)
        active = vrp > p.min_vrp and in_contango(vix, [q for _, q in quotes])
        target: Instrument | None = None
        if active:
            if self.held is not None and days_to_expiry(self.held, self.now) > p.roll_days:
                target = self.held
            else:
                target = choose_contract(vix, quotes, self.now, p.roll_days)
        qty = 0
        if target is not None:
            qty = self.contracts(target, {i.key: q for i, q in quotes}[target.key])
            if qty == 0:
                self.log.warning("no short of %s: %.0f of capital buys fewer than %d "
                                 "contracts", target.key, p.exposure * self.capital(),
                                 max(p.min_contracts, 1))
                target = None
            elif target != self.held:
                self.log.info("short %d %s (VRP %.1f)", qty, target.key, vrp)
        for inst in self.held_contracts():
            if target is None or inst.key != target.key:
                self.log.info("close %s (%s)", inst.key, "roll" if target else "inactive")
                self.flatten(inst)
        if target is not None:
            self.order_target_quantity(target, -qty)
        self.held = target

    def contracts(self, inst: Instrument, price: float) -> int:
        """Contracts the capital pays for, at most `max_contracts`; 0 when that is fewer
        than `min_contracts` (never more exposure than the capital allows)."""
        p = self.params
        n = math.trunc(p.exposure * self.capital() / (price * inst.multiplier))
        return 0 if n < max(p.min_contracts, 1) else min(p.max_contracts, n)

    def on_save(self) -> dict[str, object]:
        return {"held": None if self.held is None else [self.held.symbol, self.held.expiry]}

    def on_load(self, state: dict[str, object]) -> None:
        held = state.get("held")
        if isinstance(held, list) and len(held) == 2:
            self.held = Future(str(held[0]), str(held[1]))

    def on_stop(self) -> None:
        self.log.info("short_vix stopped holding %s", self.held)
