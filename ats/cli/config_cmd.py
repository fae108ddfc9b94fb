"""ats-ctl config: the effective configuration."""

from __future__ import annotations

import click

from ats.cli.context import Ctl, pass_ctl
from ats.cli.output import echo_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON (the default is TOML-like text).")
@pass_ctl
def config(ctl: Ctl, as_json: bool) -> None:
    """The effective configuration: file values merged over defaults, plus derived paths."""
    data = ctl.cfg.effective()
    if as_json:
        echo_json(data)
        return
    for section, values in data.items():
        if isinstance(values, dict):
            click.echo(f"[{section}]")
            for key, value in values.items():
                click.echo(f"  {key} = {value!r}")
        else:
            click.echo(f"{section} = {values!r}")


COMMANDS = [config]
