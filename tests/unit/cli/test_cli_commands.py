"""ats-ctl loads a command's module only when that command runs."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from ats.cli.main import COMMANDS, cli


def test_every_listed_command_resolves_to_a_click_command_of_that_name() -> None:
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, name


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)


def test_a_status_call_loads_neither_the_plotting_the_storage_nor_the_backtest_code() -> None:
    code = ("import sys; from ats.cli.main import cli, COMMANDS; import click; "
            "cli.get_command(click.Context(cli), 'status'); "
            "print(sorted(m for m in ('matplotlib', 'arcticdb', 'ats.sdk.backtest', "
            "'ats.report', 'ib_async') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
