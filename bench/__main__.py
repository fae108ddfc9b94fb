"""python -m bench [names...]: run every bench/bench_*.py (or the named ones) as a subprocess.

Each bench runs from the repo root with this interpreter; its output is streamed as it comes.
A summary lists which ran, which failed and how long each took. Exit status is 1 when any
failed (or a name is unknown), else 0. With ``--json FILE`` the figures the benches record
(bench/figures.py) are written to FILE as one JSON list of ``{bench, name, value, unit,
baseline, ratio, goal, met}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import figures

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
#: seconds one bench may run before it is killed and counted as failed
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Result:
    name: str
    returncode: int  #: -1 when killed after the timeout
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def available() -> list[str]:
    """Bench names (``bus`` for bench/bench_bus.py), sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def _normalise(name: str) -> str:
    name = Path(name).stem if name.endswith(".py") else name
    return name.removeprefix("bench_")


def run_one(name: str, timeout: float, env: dict[str, str] | None = None) -> Result:
    header = f" bench_{name} "
    print(f"\n{header:=^78}", flush=True)
    t0 = time.monotonic()
    # Output is inherited, so it streams straight through; -u keeps it unbuffered.
    proc = subprocess.Popen([sys.executable, "-u", "-m", f"bench.bench_{name}"], cwd=REPO,
                            env=env)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(f"bench_{name}: killed after {timeout:.0f}s", flush=True)
        rc = -1
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(15)
        raise
    return Result(name, rc, time.monotonic() - t0)


def summary(results: list[Result], unknown: list[str]) -> str:
    lines = [f"\n{' summary ':=^78}", f"{'bench':<24}{'result':<12}{'seconds':>10}"]
    for r in results:
        verdict = "ok" if r.ok else ("timeout" if r.returncode == -1 else f"FAIL ({r.returncode})")
        lines.append(f"{r.name:<24}{verdict:<12}{r.seconds:>10.1f}")
    for name in unknown:
        lines.append(f"{name:<24}{'unknown':<12}{'':>10}")
    failed = [r.name for r in results if not r.ok] + unknown
    total = sum(r.seconds for r in results)
    lines.append(f"{len(results)} ran in {total:.1f}s; "
                 + (f"{len(failed)} failed: {', '.join(failed)}" if failed else "all passed"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benches to run (default all: "
                        f"{', '.join(available())})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds per bench before it is killed (default %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    parser.add_argument("--json", metavar="FILE", type=Path,
                        help="write the recorded figures to FILE as a JSON list")
    args = parser.parse_args(argv)
    names = available()
    if args.list:
        print("\n".join(names))
        return 0
    wanted = [_normalise(n) for n in args.names] or names
    unknown = [n for n in wanted if n not in names]
    with tempfile.TemporaryDirectory(prefix="bench-json-") as tmp:
        jsonl = Path(tmp) / "figures.jsonl"
        env = {**os.environ, figures.ENV: str(jsonl)} if args.json else None
        results = [run_one(n, args.timeout, env) for n in wanted if n in names]
        if args.json:
            rows = figures.collect(jsonl)
            args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
            print(f"{len(rows)} figures written to {args.json}", flush=True)
    print(summary(results, unknown), flush=True)
    return 0 if all(r.ok for r in results) and not unknown else 1


if __name__ == "__main__":
    sys.exit(main())
