"""Every bus topic is built here.

Rule: a topic is ``"<family>.<name>."`` (or ``"<family>."`` for the process-wide families),
always ending with the separator. A topic is therefore its own exact subscription prefix:
subscribing to ``status("ltmt")`` == ``"status.ltmt."`` never matches ``"status.ltmt2."``,
and ``prefix("status")`` == ``"status."`` matches every strategy's status. Names match
``[a-z0-9_][a-z0-9_-]*`` so they never contain the separator.
"""

from __future__ import annotations

import re

SEP = "."
_NAME = re.compile(r"[a-z0-9_][a-z0-9_-]*")

#: families whose topic carries a strategy or process name
STATUS = "status"
ORDER = "order"
FILL = "fill"
POSITION = "position"
PNL = "pnl"
HB = "hb"
LOG = "log"
ALERT = "alert"
PARAMS = "params"
CONNECTION = "connection"
RISK = "risk"
#: resource figures of one process (CPU, memory, descriptors, loop lag), every few seconds
STATS = "stats"
#: process-wide families (no name)
ACCOUNT = "account"
RECONCILE = "reconcile"

NAMED_FAMILIES = frozenset(
    {STATUS, ORDER, FILL, POSITION, PNL, HB, LOG, ALERT, PARAMS, CONNECTION, RISK, STATS}
)
GLOBAL_FAMILIES = frozenset({ACCOUNT, RECONCILE})
FAMILIES = NAMED_FAMILIES | GLOBAL_FAMILIES


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid strategy/process name, else raise ValueError."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"invalid bus name {name!r}: must match [a-z0-9_][a-z0-9_-]*")
    return name


def build(family: str, name: str | None = None) -> str:
    """Build a topic. Known named families need a name, process-wide ones refuse one;
    other families (validated like names) are allowed for extensions."""
    validate_name(family)
    if name is None:
        if family in NAMED_FAMILIES:
            raise ValueError(f"topic family {family!r} needs a name")
        return family + SEP
    if family in GLOBAL_FAMILIES:
        raise ValueError(f"topic family {family!r} takes no name")
    return family + SEP + validate_name(name) + SEP


def prefix(family: str = "", name: str | None = None) -> str:
    """Subscription prefix: ``prefix()`` -> everything, ``prefix("status")`` -> all statuses,
    ``prefix("status", "ltmt")`` -> exactly ltmt's status."""
    if not family:
        if name is not None:
            raise ValueError("a name needs a family")
        return ""
    if name is None:
        return validate_name(family) + SEP
    return build(family, name)


def parse(topic: str) -> tuple[str, str]:
    """Split a topic into ``(family, name)``; name is ``""`` for process-wide families."""
    if not topic.endswith(SEP):
        raise ValueError(f"malformed topic {topic!r}: must end with {SEP!r}")
    parts = topic[:-1].split(SEP)
    if len(parts) == 1:
        return validate_name(parts[0]), ""
    if len(parts) == 2:
        return validate_name(parts[0]), validate_name(parts[1])
    raise ValueError(f"malformed topic {topic!r}")


def status(strategy: str) -> str:
    return build(STATUS, strategy)


def order(strategy: str) -> str:
    return build(ORDER, strategy)


def fill(strategy: str) -> str:
    return build(FILL, strategy)


def position(strategy: str) -> str:
    return build(POSITION, strategy)


def pnl(strategy: str) -> str:
    return build(PNL, strategy)


def hb(process: str) -> str:
    return build(HB, process)


def log(process: str) -> str:
    return build(LOG, process)


def alert(source: str) -> str:
    return build(ALERT, source)


def params(strategy: str) -> str:
    return build(PARAMS, strategy)


def connection(process: str) -> str:
    return build(CONNECTION, process)


def risk(strategy: str) -> str:
    return build(RISK, strategy)


def stats(process: str) -> str:
    return build(STATS, process)


def account() -> str:
    return build(ACCOUNT)


def reconcile() -> str:
    return build(RECONCILE)
