"""CSV import: good files parse to the stored shape; bad ones name the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ats.data.importer import CsvImportError, infer_bar_size, read_csv


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "SPY.csv"
    path.write_text(text)
    return path


def test_a_daily_file_parses_to_utc_midnight_bars(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close,Volume\n"
                           "2024-01-03,2,3,1,2.5,200\n2024-01-02,1,2,0.5,1.5,100\n")
    df = read_csv(path)
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert df.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert df["close"].tolist() == [1.5, 2.5]
    assert infer_bar_size(pd.DatetimeIndex(df.index)) == "1d"


def test_time_column_with_zone_and_missing_volume(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n"
                           "2024-01-02T14:30:00-05:00,1,2,0.5,1.5\n"
                           "2024-01-02T14:31:00-05:00,1,2,0.5,1.6\n")
    df = read_csv(path)
    assert df.index[0] == pd.Timestamp("2024-01-02 19:30", tz="UTC")
    assert df["volume"].tolist() == [0.0, 0.0]
    assert infer_bar_size(pd.DatetimeIndex(df.index)) == "1min"


def test_blank_lines_and_thousands_separators_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, 'date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,"1,000"\n'
                           "\n2024-01-03,1,2,0.5,1.5,10\n")
    assert read_csv(path)["volume"].tolist() == [1000.0, 10.0]


def test_missing_columns_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "when,open,close\n2024-01-02,1,2\n")
    with pytest.raises(CsvImportError) as info:
        read_csv(path)
    assert info.value.line == 1
    assert "date (or time)" in info.value.message
    assert "high" in info.value.message and "low" in info.value.message


def test_an_unparseable_date_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,1\n"
                           "\n2024-13-45,1,2,0.5,1.5,1\n")
    with pytest.raises(CsvImportError) as info:
        read_csv(path)
    assert info.value.line == 4
    assert "2024-13-45" in str(info.value)


def test_a_non_numeric_value_names_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,1\n"
                           "2024-01-03,1,2,abc,1.5,1\n")
    with pytest.raises(CsvImportError) as info:
        read_csv(path)
    assert info.value.line == 3
    assert "low" in str(info.value) and "'abc'" in str(info.value)


def test_an_empty_cell_is_not_a_number(tmp_path: Path) -> None:
    path = write(tmp_path, "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,,1\n")
    with pytest.raises(CsvImportError, match="close"):
        read_csv(path)


def test_duplicate_times_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1,1\n"
                           "2024-01-02,1,2,0.5,1,1\n")
    with pytest.raises(CsvImportError, match="duplicate") as info:
        read_csv(path)
    assert info.value.line == 3


@pytest.mark.parametrize("text", ["", "date,open,high,low,close\n"])
def test_empty_files_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(CsvImportError):
        read_csv(write(tmp_path, text))


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CsvImportError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
