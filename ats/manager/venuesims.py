"""The simulators of the [[venues]] of kind "sim": one supervisord program each,
gateway-sim-NAME, written into supervisor.d by `ats-ctl up` beside the strategies' sections.
[venue]'s own simulator is deploy/supervisord.conf's gateway-sim."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from ats.config import Config

PREFIX = "gateway-sim-"


def further_sims(cfg: Config) -> list[dict[str, Any]]:
    return [v for v in cfg.venues[1:] if v["kind"] == "sim"]


def sim_programs(cfg: Config) -> list[str]:
    return [f"{PREFIX}{v['name']}" for v in further_sims(cfg)]


def sim_args(cfg: Config, venue: dict[str, Any] | None = None) -> list[str]:
    """ats-gateway-sim's arguments for a sim venue (default: [venue] with [sim])."""
    sim = cfg.section("sim")
    first = venue is None or venue["name"] == cfg.venue["name"]
    venue = cfg.venue if venue is None else venue
    own = sim if first else venue
    state = cfg.state_dir / ("gateway-sim.json" if first else f"{PREFIX}{venue['name']}.json")
    return [
        "--host", str(venue["host"]), "--port", str(venue["port"]),
        "--admin-port", str(own["admin_port"]), "--seed", str(own["seed"]),
        "--speed", str(sim["speed"]), "--accounts", str(own["accounts"]),
        "--cash", str(own["cash"]), "--master-client-id", str(venue["master_client_id"]),
        "--max-msg-rate", str(sim["max_msg_rate"]),
        "--history-pacing" if sim.get("history_pacing", True) else "--no-history-pacing",
        "--state", str(state),
        # Stored bars replace the synthetic market only when asked for: `ats-ctl data fetch`
        # must not change the simulator's prices behind the operator's back.
        *(["--arctic", cfg.arctic_uri] if sim.get("market") == "stored" else []),
        *(["--start", str(sim["start"])] if sim.get("start") else []),
        "--clock", str(sim.get("clock", "session")),
    ]


def section(cfg: Config, venue: dict[str, Any]) -> str:
    program = f"{PREFIX}{venue['name']}"
    command = shlex.join([str(Path(sys.executable).parent / "ats-gateway-sim"),
                          *sim_args(cfg, venue)])
    return f"""; Written by `ats-ctl up` for [[venues]] {venue['name']!r}. Edits are overwritten.
[program:{program}]
command={command.replace("%", "%%")}
priority=10
autostart=true
autorestart=true
startsecs=1
startretries=10
stopsignal=TERM
stopwaitsecs=10
stopasgroup=true
killasgroup=true
stdout_logfile={cfg.log_dir}/{program}.log
redirect_stderr=true
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=3
"""


def write_sections(cfg: Config) -> list[str]:
    """One section per further sim venue; sections of venues no longer configured removed."""
    cfg.programs_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{PREFIX}{v['name']}.conf": section(cfg, v) for v in further_sims(cfg)}
    for path in cfg.programs_dir.glob(f"{PREFIX}*.conf"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        path = cfg.programs_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return [name.removesuffix(".conf") for name in wanted]
