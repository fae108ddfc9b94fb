"""ats-ctl: control and watch a running ats system.

Each command's module is imported only when that command runs (`ats-ctl status` need not
load matplotlib, ArcticDB and the backtester): the table below names where each lives.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from ats import config as config_mod
from ats.cli.context import Ctl

#: command -> "module:attribute" under ats.cli
COMMANDS: dict[str, str] = {
    **{name: f"lifecycle:{name}" for name in ("init", "up", "down")},
    **{name: f"strategies:{name}" for name in ("start", "stop", "restart", "status", "add",
                                               "remove", "enable", "disable", "weights")},
    "list": "strategies:list_", "set": "strategies:set_",
    **{name: f"inspect_cmd:{name}" for name in ("logs", "show")},
    **{name: f"trading:{name}" for name in ("positions", "pnl", "orders", "fills", "halt",
                                            "resume", "limits", "reconcile")},
    "config": "config_cmd:config",
    **{name: f"watch:{name}" for name in ("tail", "repl")},
    "backtest": "backtest:backtest", "report": "report:report", "top": "top:top",
    "doctor": "doctor:doctor", "assign": "assign:assign", "audit": "web:audit",
    "web": "web:web", "alerts": "alerts:alerts", "keys": "keys:keys", "data": "data_browse:data",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(f"ats.cli.{module}"), attr)
        assert isinstance(command, click.Command), target
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(path_type=Path), default=None, envvar="ATS_HOME",
              help="ATS_HOME folder (default ./var).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """Control and watch an ats trading system."""
    ctx.obj = Ctl(home=(home or config_mod.default_home()).resolve())
