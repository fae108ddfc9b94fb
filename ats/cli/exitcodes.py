"""Error code -> (exit code, hint). A table, so every failure has a distinct, stable exit."""

from __future__ import annotations

from ats.errors import Code as AtsCode
from bus.errors import Code as BusCode

OK = 0
GENERIC = 1
USAGE = 2  # click's own code for bad usage

EXIT_CODES: dict[str, tuple[int, str]] = {
    BusCode.UNREACHABLE: (3, "is the system up? try `ats-ctl up`"),
    BusCode.TIMEOUT: (3, "is the system up? try `ats-ctl up`"),
    AtsCode.UNKNOWN_STRATEGY: (4, "see `ats-ctl list`"),
    AtsCode.ALREADY_RUNNING: (5, ""),
    AtsCode.NOT_RUNNING: (6, ""),
    AtsCode.BAD_PARAMS: (7, ""),
    AtsCode.INVALID_STRATEGY: (8, "fix the strategy file and try again"),
    AtsCode.ALREADY_EXISTS: (9, "use another name, or `ats-ctl remove` the old one"),
    AtsCode.BAD_NAME: (10, ""),
    AtsCode.DISABLED: (11, ""),
    AtsCode.SUPERVISOR_DOWN: (12, "try `ats-ctl up`"),
    AtsCode.NO_ACK: (13, "check the strategy's log"),
    AtsCode.RISK_REJECTED: (14, ""),
    AtsCode.HALTED: (15, "see `ats-ctl resume`"),
    AtsCode.DISCONNECTED: (16, "the venue is unreachable"),
    "CONFIG": (17, "fix ats.toml"),
    "NO_DATA": (18, "see `ats-ctl data list`"),
    "BAD_INPUT": (19, ""),
    "NOT_INITIALISED": (20, "run `ats-ctl init` (or `make run`)"),
    "NOT_READY": (23, "see `ats-ctl status` and `ats-ctl logs NAME`"),
    "NO_LOG": (21, "has it ever been started? see `ats-ctl status`"),
    "ORPHANS": (22, "`ats-ctl down` stops them"),
    "NOT_DELIVERED": (24, "check the URL and the service; see [alerts] urls"),
    "DOCTOR": (25, "fix what failed before trading live on this venue"),
    AtsCode.HOST_LOST: (27, "is `ats-agent` up on that host? see `ats-ctl status`"),
    AtsCode.TOO_MANY_CLIENTS: (26, "`ats-ctl remove` a strategy, or seed fewer in "
                                   "[manager] seed_strategies"),
    AtsCode.UNKNOWN_VENUE: (28, "see [venue] and [[venues]] in ats.toml"),
    "UNKNOWN_JOB": (30, "see `ats-ctl data schedule list`"),
    "JOB_EXISTS": (31, "use another name, or `ats-ctl data schedule remove` the old one"),
    "JOB_FAILED": (32, "see `ats-ctl data schedule list` and `ats-ctl logs scheduler`"),
    "JOB_NOT_RUN": (33, "is the scheduler running? see `ats-ctl status`"),
}


def exit_code_for(code: str) -> int:
    return EXIT_CODES.get(code, (GENERIC, ""))[0]


def hint_for(code: str) -> str:
    return EXIT_CODES.get(code, (GENERIC, ""))[1]
