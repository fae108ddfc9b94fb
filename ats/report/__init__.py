"""Performance reports: metrics of an equity curve and its fills, against a benchmark.

- `inputs`: the books to measure (equity = capital base + P&L, fills, exposures);
- `metrics`: the figures, through empyrical-reloaded, and every convention they follow;
- `build`: a report of one book (since inception and per period) and the files it writes;
- `benchmark`: the benchmark's bars, from the market_data library or the venue;
- `tearsheet`: report.html (needs matplotlib, the `plot` extra).
"""
