"""Bars/s through one strategy's on_bar in a replay (backtest.run), against a bare loop.

The strategy is strategies.example (SMA 5/20 crossover on 1-minute bars, trading 10 shares on
every cross). The baseline, measured in the same run over the same closes, is a bare Python
loop computing the same two moving averages and crossover signal with running sums. Goal:
at least 10,000 bars/s through the replay.
"""

from __future__ import annotations

import time

from ats.sdk import Stock, backtest
from ats.sdk.testkit import intraday_bars, random_walk
from bench.figures import Figure, record
from strategies.example import Example, ExampleParams

N_BARS = 50_000
REPEATS = 3
GOAL = 10_000.0
#: issue 15: replay >= 150k bars/s through the full backtest path (stated at 1M bars)
GOAL_ISSUE_15 = 150_000.0


def bare_loop(closes: list[float], fast: int, slow: int) -> int:
    """The same SMA crossover signal with running sums; returns the number of signal changes."""
    sf = ss = 0.0
    last = changes = 0
    for i, c in enumerate(closes):
        sf += c
        ss += c
        if i >= fast:
            sf -= closes[i - fast]
        if i >= slow:
            ss -= closes[i - slow]
        if i + 1 >= slow:
            a, b = sf / fast, ss / slow
            sig = (a > b) - (a < b)
            if sig != last:
                changes += 1
                last = sig
    return changes


def best_of(fn: object, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    closes = random_walk(N_BARS, vol=0.0005, seed=7)
    df = intraday_bars(closes, minutes=1)
    bars = {Stock("SPY"): df}
    p = ExampleParams()
    as_list = closes.tolist()
    trades = {"n": 0}

    def replay() -> None:
        r = backtest.run(Example, p, bars)
        trades["n"] = len(r.fills)

    t_base = best_of(lambda: bare_loop(as_list, p.fast, p.slow))
    t_run = best_of(replay)
    rate_base, rate_run = N_BARS / t_base, N_BARS / t_run
    print(f"bench_strategy: SMA {p.fast}/{p.slow} crossover, {N_BARS:,} 1-min bars, "
          f"best of {REPEATS}, {trades['n']:,} fills in the replay")
    print(f"{'measure':<34}{'seconds':>10}{'bars/s':>14}")
    print(f"{'bare python loop (baseline)':<34}{t_base:>10.3f}{rate_base:>14,.0f}")
    print(f"{'backtest.run -> Strategy.on_bar':<34}{t_run:>10.3f}{rate_run:>14,.0f}")
    print(f"{'replay / baseline speed':<34}{'':>10}{rate_run / rate_base:>14.3f}")
    verdict = "meets" if rate_run >= GOAL else "MISSES"
    print(f"goal >= {GOAL:,.0f} bars/s: {verdict}")
    record("strategy", [
        Figure("replay bars/s (backtest.run)", rate_run, "bars/s", rate_base,
               f">= {GOAL_ISSUE_15:,.0f} bars/s (issue 15, at 1M bars; here {N_BARS:,})",
               rate_run >= GOAL_ISSUE_15),
    ])


if __name__ == "__main__":
    main()
