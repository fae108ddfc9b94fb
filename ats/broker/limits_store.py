"""Risk limits the operator changed at runtime, kept across restarts.

``state/risk-limits.json`` holds only the scopes changed with ``ats-ctl limits``: they override
ats.toml's ``[risk]`` at the next start, as the operator's later word. A file that cannot be
read stops the broker with its path: trading on looser limits than the operator set would be
worse than not trading.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ats.atomicfile import atomic_write
from ats.broker.risk import Limits

#: None is the account; a name is that strategy
Scope = str | None


def load(path: Path) -> dict[Scope, Limits]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        changed: dict[Scope, Limits] = {}
        if data.get("account") is not None:
            changed[None] = Limits.from_mapping(data["account"])
        for name, limits in dict(data.get("strategies") or {}).items():
            changed[str(name)] = Limits.from_mapping(limits)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: cannot read the risk limits set at runtime: {exc}") from exc
    return changed


def save(path: Path, changed: Mapping[Scope, Limits]) -> None:
    data = {
        "account": changed[None].to_mapping() if None in changed else None,
        "strategies": {k: v.to_mapping() for k, v in changed.items() if k is not None},
    }
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True).encode())
