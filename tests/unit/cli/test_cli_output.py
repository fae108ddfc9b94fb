"""ats-ctl's tables and exit codes."""

from __future__ import annotations

from ats.cli.exitcodes import EXIT_CODES, exit_code_for
from ats.cli.output import table
from ats.errors import Code


def test_every_error_code_has_its_own_exit_code_except_the_unreachable_pair() -> None:
    codes = [c for name, (c, _) in EXIT_CODES.items() if name != "TIMEOUT"]
    assert len(codes) == len(set(codes))
    assert exit_code_for("TIMEOUT") == exit_code_for("UNREACHABLE") == 3
    assert exit_code_for(Code.UNKNOWN_STRATEGY) == 4
    assert exit_code_for("SOMETHING_NEW") == 1


def test_table_aligns_numbers_right_and_marks_missing_values() -> None:
    out = table([{"name": "ltmt", "pnl": 1234.5, "pid": None},
                 {"name": "s2", "pnl": -3.25, "pid": 12}], ["name", "pnl", "pid"])
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "PNL", "PID"]
    assert lines[2].split() == ["ltmt", "1,234.50", "-"]
    # numbers are right-aligned: both P&L cells end in the same column
    assert lines[2].index("1,234.50") + 8 == lines[3].index("-3.25") + 5
    assert table([], ["name"]).endswith("(none)")
