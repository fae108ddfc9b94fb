"""What every command needs: the config, and a request to a service with errors mapped."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
import zmq

from ats import config as config_mod
from ats.cli.exitcodes import exit_code_for, hint_for
from ats.errors import Code as AtsCode
from ats.processes import secure_bus
from bus.client import Requester
from bus.endpoints import listening
from bus.errors import Code, RequestError


def actor() -> str:
    """Who asks, as the broker's halt and resume record it (and its alerts say): cli:<user>."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid
        return f"cli:uid{os.getuid()}"


def fail(code: str, message: str) -> NoReturn:
    hint = hint_for(code)
    click.echo(f"error: {message}" + (f" ({hint})" if hint else ""), err=True)
    sys.exit(exit_code_for(code))


@dataclass
class Ctl:
    home: Path
    _cfg: config_mod.Config | None = None
    _zctx: zmq.Context[Any] | None = field(default=None, repr=False)

    @property
    def cfg(self) -> config_mod.Config:
        if self._cfg is None:
            if not (self.home / config_mod.CONFIG_FILE).exists():
                # Loading would create the run folder: a typo in ATS_HOME must not leave one.
                fail("NOT_INITIALISED", f"{self.home} holds no {config_mod.CONFIG_FILE}: it is "
                     "not an initialised ATS_HOME")
            try:
                self._cfg = config_mod.load(self.home)
                secure_bus(self._cfg, "ctl")
            except config_mod.ConfigError as exc:
                fail("CONFIG", str(exc))
        return self._cfg

    def call(self, service: str, method: str, params: dict[str, Any] | None = None,
             timeout: float = 10.0) -> Any:
        endpoint = getattr(self.cfg.endpoints, service)
        if service == "manager":
            self._refuse_dead_supervisord()
        if not listening(endpoint):
            fail(Code.UNREACHABLE, f"the {service} is unreachable: nothing listens on {endpoint}")
        if self._zctx is None:
            self._zctx = zmq.Context()
        req = Requester(self._zctx, endpoint, timeout=timeout)
        try:
            return req.request(method, params or {}, timeout=timeout)
        except RequestError as exc:
            fail(exc.code, exc.message)
        finally:
            req.close()

    def _refuse_dead_supervisord(self) -> None:
        """A supervisord killed without cleaning up (kill -9) leaves its pid file: say so,
        rather than ask a manager that is gone with it (or about to be)."""
        from ats.cli import homeprocs

        cfg = self.cfg
        pid = homeprocs.dead_supervisord(cfg.home, cfg.run_dir)
        if pid is not None:
            fail(AtsCode.SUPERVISOR_DOWN, f"supervisord at {cfg.supervisor_socket} is "
                 f"unreachable: its process (pid {pid}) is gone")


pass_ctl = click.make_pass_decorator(Ctl)
