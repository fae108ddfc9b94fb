"""The record that an ats.toml passed the schema (ats.configcheck): a process that finds the
file as it was checked skips the schema and never imports jsonschema; any other file, or a
file without a record, is checked as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ats import config, configcheck

VALID = "[sim]\nspeed = 2.0\n"


def home_with(tmp_path: Path, text: str, *, run: bool = True) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    if run:
        (home / "run").mkdir(mode=0o700)
    (home / config.CONFIG_FILE).write_text(text)
    return home


def imports_jsonschema_to_load(home: Path) -> bool:
    code = ("import sys; from pathlib import Path; from ats import config; "
            f"config.load(Path({str(home)!r})); print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out == "True"


def test_a_file_checked_once_loads_without_jsonschema_after(tmp_path: Path) -> None:
    home = home_with(tmp_path, VALID)
    assert imports_jsonschema_to_load(home)
    assert (home / "run" / configcheck.RECORD).exists()
    assert not imports_jsonschema_to_load(home)
    assert config.load(home).data["sim"]["speed"] == 2.0


def test_a_file_changed_after_its_check_is_checked_again(tmp_path: Path) -> None:
    home = home_with(tmp_path, VALID)
    config.load(home)
    (home / config.CONFIG_FILE).write_text("[sim]\nspeed = 0\n")
    with pytest.raises(config.ConfigError, match=r"\[sim\] speed must be > 0, got 0"):
        config.load(home)


def test_a_refused_file_leaves_no_record(tmp_path: Path) -> None:
    home = home_with(tmp_path, "[venu]\nport = 4002\n")
    with pytest.raises(config.ConfigError, match="unknown section"):
        config.load(home)
    assert not (home / "run" / configcheck.RECORD).exists()


def test_a_record_of_another_file_does_not_pass_this_one(tmp_path: Path) -> None:
    home = home_with(tmp_path, "[venue]\nport = 70000\n")
    configcheck.record(home / "run", VALID)
    with pytest.raises(config.ConfigError, match=r"port must be an integer 1\.\.65535"):
        config.load(home)


def test_without_a_run_folder_nothing_is_written(tmp_path: Path) -> None:
    home = home_with(tmp_path, VALID, run=False)
    config.load(home)
    assert not (home / "run").exists()


def test_the_checks_outside_the_schema_still_run_on_a_recorded_file(tmp_path: Path) -> None:
    uri = "s3s://host:bucket?access=AKIA&secret=x"
    home = home_with(tmp_path, f'[storage]\narctic_uri = "{uri}"\n')
    # as though an earlier process had passed this file's schema part
    configcheck.record(home / "run", (home / config.CONFIG_FILE).read_text())
    with pytest.raises(config.ConfigError, match="holds S3 credentials"):
        config.load(home)
