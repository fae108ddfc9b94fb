"""The supervisord program section the manager writes for each strategy."""

from __future__ import annotations

import configparser
from pathlib import Path

from ats.host.crashloop import CRASH_LOOP_EXIT
from ats.manager.supervisor import strategy_section, write_strategy_section


def test_section_never_autostarts_and_treats_a_crash_loop_exit_as_final(tmp_path: Path) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(strategy_section("ltmt", tmp_path, "/venv/bin/python", "ib_insync"))
    section = parser["program:strategy-ltmt"]
    assert section["command"] == f"/venv/bin/python -m ats.host.main ltmt --home {tmp_path}"
    assert section["autostart"] == "false"  # the manager starts what the operator wants
    assert section["autorestart"] == "unexpected"
    assert section["exitcodes"] == f"0,{CRASH_LOOP_EXIT}"
    assert 'ATS_IB_LIB="ib_insync"' in section["environment"]


def test_section_is_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    assert write_strategy_section(tmp_path, "ltmt", tmp_path)
    assert not write_strategy_section(tmp_path, "ltmt", tmp_path)
    assert write_strategy_section(tmp_path, "ltmt", tmp_path, ib_lib="ib_insync")
