"""Benchmarks: one bench_<area>.py per area; `python -m bench` runs them all."""
