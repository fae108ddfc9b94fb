"""ats-ctl: control and watch a running ats system."""

from __future__ import annotations

from pathlib import Path

import click

from ats import config as config_mod
from ats.cli import (
    alerts,
    backtest,
    config_cmd,
    data,
    doctor,
    inspect_cmd,
    lifecycle,
    report,
    strategies,
    top,
    trading,
    watch,
    web,
)
from ats.cli.context import Ctl


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), default=None, envvar="ATS_HOME",
              help="ATS_HOME folder (default ./var).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """Control and watch an ats trading system."""
    ctx.obj = Ctl(home=(home or config_mod.default_home()).resolve())


for module in (lifecycle, strategies, inspect_cmd, trading, config_cmd, watch, backtest, web,
               report, top, doctor):
    for command in module.COMMANDS:
        cli.add_command(command)
cli.add_command(data.data)
cli.add_command(web.web)
cli.add_command(alerts.alerts)
