"""ats-ctl keys generate|list|allow|revoke: the bus's CURVE keys ([bus] curve = true).

Key files live in ATS_HOME/state/keys (0700), each 0600; a secret key never leaves them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ats import buskeys
from ats import config as config_mod
from ats.cli.context import Ctl, fail
from ats.cli.output import echo_json, table
from bus.security import SecurityError

T = TypeVar("T")


def _cfg(ctx: click.Context) -> config_mod.Config:
    # Not Ctl.cfg: with curve on, that one needs the keys this command is here to make.
    ctl: Ctl = ctx.find_object(Ctl)  # type: ignore[assignment]
    if not (ctl.home / config_mod.CONFIG_FILE).exists():
        fail("NOT_INITIALISED", f"{ctl.home} holds no {config_mod.CONFIG_FILE}: it is not an "
             "initialised ATS_HOME")
    try:
        return config_mod.load(ctl.home)
    except config_mod.ConfigError as exc:
        fail("CONFIG", str(exc))


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except SecurityError as exc:
        fail("BAD_INPUT", str(exc))


@click.group()
def keys() -> None:
    """The bus's CURVE keys: generate, list, allow, revoke."""


@keys.command()
@click.argument("name", required=False)
@click.pass_context
def generate(ctx: click.Context, name: str | None) -> None:
    """Without NAME: this home's server and local key pairs, where missing (local is allowed).
    With NAME: a new key pair for a peer elsewhere, not allowed until `keys allow NAME`;
    give that peer NAME.key_secret and server.key."""
    cfg = _cfg(ctx)
    if name is None:
        made = _run(lambda: buskeys.generate_home(cfg))
        click.echo(f"made {', '.join(made)} in {cfg.keys_dir}" if made
                   else f"this home's keys are already in {cfg.keys_dir}")
        return
    secret = _run(lambda: buskeys.generate(cfg, name))
    click.echo(f"made key pair {name}: {secret} (secret, 0600) and {secret.with_suffix('.key')}")


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every key: its public key, whether its secret is here, whether it is allowed."""
    rows: list[dict[str, Any]] = [vars(k) for k in _run(lambda: buskeys.listing(_cfg(ctx)))]
    if as_json:
        echo_json(rows)
        return
    click.echo(table([{**r, "secret": "yes" if r["secret"] else "-",
                       "allowed": "yes" if r["allowed"] else "-"} for r in rows],
                     ["name", "allowed", "secret", "public"]))


@keys.command()
@click.argument("key")
@click.pass_context
def allow(ctx: click.Context, key: str) -> None:
    """Let KEY in: a key pair's name here, or a public key file (.key) from another host.
    Servers read the allow-list at each new connection: no restart needed."""
    name = _run(lambda: buskeys.allow(_cfg(ctx), key))
    click.echo(f"allowed {name}")


@keys.command()
@click.argument("name")
@click.pass_context
def revoke(ctx: click.Context, name: str) -> None:
    """Stop letting NAME in. A connection already open lasts until it reconnects:
    `ats-ctl down` and `ats-ctl up` cut it at once."""
    _run(lambda: buskeys.revoke(_cfg(ctx), name))
    click.echo(f"revoked {name}")
