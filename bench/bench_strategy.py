"""Bars/s through one strategy's on_bar in a replay (backtest.run), against a bare loop.

The strategy is strategies.example (SMA 5/20 crossover on 1-minute bars, trading 10 shares on
every cross), replayed through the full path: orders, fills, commissions (the simulator's
schedule), equity at every bar. The baseline, measured in the same run over the same closes,
is a bare Python loop computing the same two moving averages and crossover signal with
running sums. Goals: at least 10,000 bars/s; issue 15: at least 150,000 bars/s at 1M bars,
the default here (`python -m bench.bench_strategy --bars 50000` for a quick look).
"""

from __future__ import annotations

import argparse
import time

from ats.sdk import Stock, backtest
from ats.sdk.testkit import intraday_bars, random_walk
from bench.figures import Figure, record
from strategies.example import Example, ExampleParams

N_BARS = 1_000_000
#: 1M minute bars of regular sessions take ten years: these end in 2022
FIRST_DAY = "2012-01-03"
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
    parser = argparse.ArgumentParser(prog="python -m bench.bench_strategy")
    parser.add_argument("--bars", type=int, default=N_BARS, help=f"bars replayed ({N_BARS:,})")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"best of ({REPEATS})")
    args = parser.parse_args()
    if args.bars < 100 or args.repeats < 1:
        parser.error("--bars must be >= 100 and --repeats >= 1")
    n_bars, repeats = args.bars, args.repeats
    closes = random_walk(n_bars, vol=0.0005, seed=7)
    df = intraday_bars(closes, FIRST_DAY, minutes=1)
    bars = {Stock("SPY"): df}
    p = ExampleParams()
    as_list = closes.tolist()
    trades = {"n": 0}

    def replay() -> None:
        r = backtest.run(Example, p, bars)
        trades["n"] = len(r.fills)

    t_base = best_of(lambda: bare_loop(as_list, p.fast, p.slow), repeats)
    t_run = best_of(replay, repeats)
    rate_base, rate_run = n_bars / t_base, n_bars / t_run
    print(f"bench_strategy: SMA {p.fast}/{p.slow} crossover, {n_bars:,} 1-min bars, "
          f"best of {repeats}, {trades['n']:,} fills in the replay")
    print(f"{'measure':<34}{'seconds':>10}{'bars/s':>14}")
    print(f"{'bare python loop (baseline)':<34}{t_base:>10.3f}{rate_base:>14,.0f}")
    print(f"{'backtest.run -> Strategy.on_bar':<34}{t_run:>10.3f}{rate_run:>14,.0f}")
    print(f"{'replay / baseline speed':<34}{'':>10}{rate_run / rate_base:>14.3f}")
    for goal, what in ((GOAL, ""), (GOAL_ISSUE_15, " (issue 15, at 1M bars)")):
        verdict = "meets" if rate_run >= goal else "MISSES"
        print(f"goal >= {goal:,.0f} bars/s{what}: {verdict}")
    record("strategy", [
        Figure("replay bars/s (backtest.run)", rate_run, "bars/s", rate_base,
               f">= {GOAL_ISSUE_15:,.0f} bars/s (issue 15, at 1M bars; here {n_bars:,})",
               rate_run >= GOAL_ISSUE_15),
    ])


if __name__ == "__main__":
    main()
