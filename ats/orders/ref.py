"""Deterministic orderRef strings: ``ats:<strategy>:<intent_id>``.

The intent id comes from the durable intent log, so a ref is unique across restarts and
names the strategy that owns the order.
"""

from __future__ import annotations

import re

PREFIX = "ats"
STRATEGY_RE = re.compile(r"[a-z0-9_][a-z0-9_-]*")
_REF_RE = re.compile(r"ats:([a-z0-9_][a-z0-9_-]*):([0-9]+)")


def valid_strategy(name: str) -> bool:
    return STRATEGY_RE.fullmatch(name) is not None


def make(strategy: str, intent_id: int) -> str:
    if not valid_strategy(strategy):
        raise ValueError(f"invalid strategy name {strategy!r}")
    if intent_id < 0:
        raise ValueError(f"intent_id must be >= 0, got {intent_id}")
    return f"{PREFIX}:{strategy}:{intent_id}"


def parse(ref: str) -> tuple[str, int] | None:
    """(strategy, intent_id) for refs this system made, None for anything else."""
    m = _REF_RE.fullmatch(ref or "")
    if m is None:
        return None
    return m.group(1), int(m.group(2))
