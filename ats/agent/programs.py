"""What an agent does to its host's supervisord for the manager: the strategies' program
sections (autostart while the operator wants them running), start, stop, remove, and their
states. Blocking XML-RPC over the 0700 unix socket: call it off the event loop."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Mapping
from typing import Any

from ats import config as config_mod
from ats.agent.wire import info_row
from ats.host import crashloop
from ats.manager import supervisor as sv

#: supervisord states of a program that is up or coming up
UP_STATES = frozenset({"RUNNING", "STARTING", "BACKOFF"})


class Programs:
    def __init__(self, cfg: config_mod.Config, supervisor: sv.Supervisor | None = None) -> None:
        self.cfg = cfg
        self.supervisor = supervisor or sv.Supervisor(cfg.supervisor_socket)
        mcfg = cfg.section("manager")
        self.python, self.ib_lib = str(mcfg["strategy_python"]), str(mcfg["ib_lib"])

    def rows(self) -> list[dict[str, Any]]:
        """Every strategy program of this supervisord, as wire rows."""
        return [info_row(p) for p in self.supervisor.all_processes()
                if sv.strategy_of(p.name) is not None]

    def _stop(self, name: str) -> None:
        try:
            self.supervisor.stop(sv.program_name(name), True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != sv.BAD_NAME:  # never loaded here: nothing to stop
                raise

    def _write(self, name: str, running: bool) -> bool:
        self.cfg.programs_dir.mkdir(parents=True, exist_ok=True)
        return sv.write_strategy_section(self.cfg.programs_dir, name, self.cfg.home,
                                         self.python, self.ib_lib, autostart=running)

    def sync(self, wanted: Mapping[str, bool]) -> list[dict[str, Any]]:
        """Make this host's sections the manager's: one per strategy placed here (autostart
        when it should run), none for another; start what should run and never ran here."""
        for name, running in wanted.items():
            self._write(name, running)
        for name in sv.strategy_sections(self.cfg.programs_dir) - set(wanted):
            self._stop(name)
            sv.remove_strategy_section(self.cfg.programs_dir, name)
        self.supervisor.load_programs()
        states = {p.name: p.state for p in self.supervisor.all_processes()}
        for name, running in wanted.items():
            state = states.get(sv.program_name(name))
            if running and state == "STOPPED":
                self.supervisor.start(sv.program_name(name), False)
            elif not running and state in UP_STATES:
                # stopped by the operator while this host was LOST, then autostarted here
                self._stop(name)
        return self.rows()

    def start(self, name: str) -> list[dict[str, Any]]:
        crashloop.CrashRecord(crashloop.record_path(self.cfg.state_dir, name)).clear()
        if self._write(name, True):
            self.supervisor.load_programs()
        self.supervisor.start(sv.program_name(name), True)
        return self.rows()

    def stop(self, name: str) -> list[dict[str, Any]]:
        self._stop(name)
        if name in sv.strategy_sections(self.cfg.programs_dir) and self._write(name, False):
            self.supervisor.load_programs()
        return self.rows()

    def remove(self, name: str) -> list[dict[str, Any]]:
        if name in sv.strategy_sections(self.cfg.programs_dir):
            self._stop(name)
            sv.remove_strategy_section(self.cfg.programs_dir, name)
            self.supervisor.load_programs()
        return self.rows()
