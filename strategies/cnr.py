"""cnr: contrarian short-term reversal, rebalanced weekly.

Logic: on the first session of each week (at the open plus `offset_minutes`), rank the
universe by its return over the last `lookback_days` sessions. Buy the `n_long` worst
performers (recent losers) and sell short the `n_short` best (recent winners), each at
`exposure_per_name` x capital; everything else is closed. The book is held for the week.

Parameters (defaults): symbols = sector ETFs XLK XLF XLE XLV XLI XLY XLP XLU XLB XLRE XLC,
lookback_days 5, n_long 3, n_short 3, exposure_per_name 0.1, offset_minutes 30.
Universe: liquid ETFs/stocks. Data: daily bars. Schedule: weekly (first session of the week).

Edge cases (tests/unit/strategies/test_edge_cases.py): a refused order is not resent; the
next weekly rebalance orders toward that week's targets from the book, so nothing is doubled.
A partly filled order is held as filled until the next rebalance tops it up or closes it. After
a restart it keeps what it holds (its decisions come from the bars and the book alone) and
enters nothing until the next rebalance. A missing bar: a name's return spans the bars it has;
a name with too few bars gets no rank and is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sdk import BarSpec, ParamError, Params, Stock, Strategy, param
from ats.sdk.indicators import pct_return

SECTORS = ("XLK", "XLF", "XLE", "XLV", "XLI", "XLY", "XLP", "XLU", "XLB", "XLRE", "XLC")


@dataclass(frozen=True)
class CnrParams(Params):
    symbols: tuple[str, ...] = param(SECTORS, "universe")
    lookback_days: int = param(5, "return window for ranking (sessions)", min=1)
    n_long: int = param(3, "recent losers bought", min=0)
    n_short: int = param(3, "recent winners sold short", min=0)
    exposure_per_name: float = param(0.1, "position size per name, fraction of capital",
                                     min=0.0, max=1.0)
    offset_minutes: int = param(30, "minutes after the week's first open", min=0)
    tolerance: float = param(0.02, "skip resizes below this fraction of capital", min=0.0,
                             max=0.5)

    def validate(self) -> None:
        if self.n_long + self.n_short > len(self.symbols):
            raise ParamError("n_long", "n_long + n_short exceeds the universe size")


def cnr_targets(returns: dict[str, float], n_long: int, n_short: int,
                exposure: float) -> dict[str, float]:
    """Target exposure per name: +exposure for the n_long losers, -exposure for the n_short
    winners, 0 for the rest (names with a NaN return are left out)."""
    ranked = sorted((r, s) for s, r in returns.items() if r == r)
    targets = dict.fromkeys(returns, 0.0)
    losers = [s for _, s in ranked[:n_long]]
    winners = [s for _, s in ranked[::-1][:n_short] if s not in losers]
    for s in losers:
        targets[s] = exposure
    for s in winners:
        targets[s] = -exposure
    return targets


class Cnr(Strategy[CnrParams]):
    params_type = CnrParams
    sizes_by_weight = True
    description = "Weekly short-term reversal: buy last week's losers, short its winners"

    def subscriptions(self) -> list[BarSpec]:
        n = self.params.lookback_days + 5
        return [BarSpec(Stock(s), "1d", n) for s in self.params.symbols]

    def on_start(self) -> None:
        self.schedule.weekly(self.rebalance, weekday=0, offset_minutes=self.params.offset_minutes)

    def rebalance(self) -> None:
        p = self.params
        rets = {s: pct_return(self.closes(Stock(s)), p.lookback_days) for s in p.symbols}
        if all(r != r for r in rets.values()):
            return
        targets = cnr_targets(rets, p.n_long, p.n_short, p.exposure_per_name)
        self.log.info("weekly targets %s", {s: t for s, t in targets.items() if t})
        for sym in sorted(targets, key=lambda s: targets[s]):
            self.order_target_percent(Stock(sym), targets[sym], tolerance=p.tolerance)
        for key in self.ctx.positions():
            sym = key.split(".")[0]
            if sym not in targets:
                self.flatten(Stock(sym))

    def on_stop(self) -> None:
        self.log.info("cnr stopped")
