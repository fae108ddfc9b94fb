"""Read OHLCV bars from a CSV file, with errors that name the line.

The file has a header row. The time column is called date, time, datetime or timestamp
(case-insensitive); then open, high, low, close and, optionally, volume (0 when absent).
Times without a zone are UTC; a date alone stamps a daily bar at 00:00 UTC of that date.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ats.barsizes import SIZES

TIME_COLUMNS = ("date", "time", "datetime", "timestamp")
PRICE_COLUMNS = ("open", "high", "low", "close")


class CsvImportError(ValueError):
    """A CSV file cannot be imported; `line` is the 1-based file line when known."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message



def read_csv(path: Path) -> pd.DataFrame:
    """The file's bars as a DataFrame (UTC index `time`, float OHLCV), sorted by time."""
    try:
        raw = pd.read_csv(path, dtype=str, skip_blank_lines=False, keep_default_na=False)
    except FileNotFoundError:
        raise CsvImportError(path, "no such file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CsvImportError(path, f"not a readable CSV file: {exc}") from None
    except pd.errors.EmptyDataError:
        raise CsvImportError(path, "the file is empty") from None
    columns = {str(c).strip().lower(): c for c in raw.columns}
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    absent = [c for c in PRICE_COLUMNS if c not in columns]
    if time_col is None or absent:
        need = ([] if time_col is not None else ["date (or time)"]) + absent
        raise CsvImportError(path, f"missing column(s): {', '.join(need)}; found: "
                                   f"{', '.join(map(str, raw.columns))}", 1)
    lines = np.arange(len(raw)) + 2  # header is line 1
    blank = (raw.apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    raw, lines = raw[~blank], lines[~blank]
    if raw.empty:
        raise CsvImportError(path, "no data rows")
    times = _times(path, raw[time_col], lines)
    data = {}
    for name in (*PRICE_COLUMNS, "volume"):
        if name not in columns:
            data[name] = np.zeros(len(raw))
            continue
        text = raw[columns[name]].str.strip().str.replace(",", "", regex=False)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(np.isnan(values) & (text.str.lower() != "nan").to_numpy())
        if bad.size:
            i = int(bad[0])
            raise CsvImportError(path, f"column {name}: {text.iloc[i]!r} is not a number",
                                 int(lines[i]))
        data[name] = values
    df = pd.DataFrame(data, index=times.rename("time"))
    dup = np.flatnonzero(df.index.duplicated())
    if dup.size:
        i = int(dup[0])
        raise CsvImportError(path, f"duplicate time {df.index[i]}", int(lines[i]))
    return df.sort_index()


def _times(path: Path, col: pd.Series, lines: np.ndarray) -> pd.DatetimeIndex:
    text = col.str.strip()
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise CsvImportError(path, f"cannot parse date/time {text.iloc[i]!r}", int(lines[i]))
    return pd.DatetimeIndex(parsed)


def infer_bar_size(index: pd.DatetimeIndex) -> str:
    """The bar size whose length is closest to the most common gap between rows."""
    if len(index) < 2:
        return "1d"
    gaps = np.diff(index.asi8) / 1e9
    step = float(pd.Series(gaps).mode().iloc[0])
    if step >= 86400:
        return "1d"
    return min(SIZES, key=lambda b: abs(SIZES[b].seconds - step))
