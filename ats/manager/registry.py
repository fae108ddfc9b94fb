"""The strategy registry, kept in ArcticDB (library ``registry``, symbol ``strategies``).

The manager is its only writer. Each entry has a clientId that is stable and unique: removed
entries keep their row (``removed=True``) so their clientId is never handed to another strategy.
The operator's desired state (``desired``: running|stopped) lives here too, outside supervisord,
so a strategy the operator stopped stays stopped across restarts of supervisord and the manager.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from ats.storage.arctic import library, open_arctic, read_retry

LIBRARY = "registry"
SYMBOL = "strategies"
NAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,47}$")
_COLUMNS = [
    "name", "spec", "enabled", "client_id", "params", "target_weight", "min_weight",
    "max_weight", "description", "desired", "removed", "created", "updated", "benchmark",
    "host", "venue",
]


class RegistryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Entry:
    name: str
    spec: str  #: module path ("strategies.ltmt") or a .py file path
    client_id: int
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    target_weight: float = 0.0
    min_weight: float = 0.0
    max_weight: float = 1.0
    description: str = ""
    desired: str = "stopped"  #: the operator's wish: running | stopped
    removed: bool = False
    created: float = 0.0
    updated: float = 0.0
    benchmark: str = ""  #: symbol its reports compare it with ("": SPY)
    host: str = ""  #: the host whose supervisord runs it ("": the manager's own)
    venue: str = ""  #: the venue ([venue] or a [[venues]] name) it trades on ("": [venue])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _row(self) -> dict[str, Any]:
        row = self.to_dict()
        row["params"] = json.dumps(self.params, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Entry:
        return cls(
            name=str(row["name"]),
            spec=str(row["spec"]),
            client_id=int(row["client_id"]),
            params=json.loads(str(row["params"]) or "{}"),
            enabled=bool(row["enabled"]),
            target_weight=float(row["target_weight"]),
            min_weight=float(row["min_weight"]),
            max_weight=float(row["max_weight"]),
            description=str(row["description"]),
            desired=str(row["desired"]),
            removed=bool(row["removed"]),
            created=float(row["created"]),
            updated=float(row["updated"]),
            # rows written before the field existed have no such column
            benchmark=str(row.get("benchmark") or ""),
            host=str(row.get("host") or ""),
            venue=str(row.get("venue") or ""),
        )


def is_empty(arctic_uri: str) -> bool:
    """No strategy was ever registered (the manager seeds such a registry); read-only."""
    arctic = open_arctic(arctic_uri)
    return not (arctic.has_library(LIBRARY) and arctic.get_library(LIBRARY).has_symbol(SYMBOL))


def validate_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise RegistryError(
            "BAD_NAME",
            f"bad strategy name {name!r}: use lowercase letters, digits, '_' and '-' (max 48)",
        )


class Registry:
    """Read-modify-write of one small DataFrame; writes are rare (operator actions)."""

    def __init__(self, arctic_uri: str, first_client_id: int = 101,
                 reserved_client_ids: frozenset[int] = frozenset()) -> None:
        self._lib = library(arctic_uri, LIBRARY)
        self._first_client_id = first_client_id
        self._reserved = reserved_client_ids
        self._entries: dict[str, Entry] = {}
        self.reload()

    def reload(self) -> None:
        if not self._lib.has_symbol(SYMBOL):
            self._entries = {}
            return
        df = read_retry(lambda: self._lib.read(SYMBOL).data, "registry")
        self._entries = {str(r["name"]): Entry.from_row(r) for r in df.to_dict("records")}

    def _save(self) -> None:
        rows = [e._row() for e in self._entries.values()]
        df = pd.DataFrame(rows, columns=_COLUMNS)
        self._lib.write(SYMBOL, df, prune_previous_versions=True)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted((e for e in self._entries.values() if not e.removed),
                           key=lambda e: e.name))

    def get(self, name: str) -> Entry:
        entry = self._entries.get(name)
        if entry is None or entry.removed:
            known = ", ".join(e.name for e in self) or "none"
            raise RegistryError("UNKNOWN_STRATEGY", f"unknown strategy {name!r} (known: {known})")
        return entry

    def by_client_id(self) -> dict[int, str]:
        return {e.client_id: e.name for e in self._entries.values()}

    def _next_client_id(self) -> int:
        used = {e.client_id for e in self._entries.values()} | set(self._reserved)
        cid = self._first_client_id
        while cid in used:
            cid += 1
        return cid

    def add(self, name: str, spec: str, *, params: Mapping[str, Any] | None = None,
            description: str = "", target_weight: float = 0.0, min_weight: float = 0.0,
            max_weight: float = 1.0, benchmark: str = "", host: str = "",
            venue: str = "") -> Entry:
        validate_name(name)
        if not 0 <= min_weight <= target_weight <= max_weight:
            raise RegistryError(
                "BAD_PARAMS",
                f"weights must satisfy 0 <= min <= target <= max, got "
                f"{min_weight}/{target_weight}/{max_weight}",
            )
        old = self._entries.get(name)
        if old is not None and not old.removed:
            raise RegistryError("ALREADY_EXISTS", f"strategy {name!r} is already registered")
        now = time.time()
        # A re-added name gets its old clientId back: the id stays bound to the name.
        client_id = old.client_id if old is not None else self._next_client_id()
        entry = Entry(
            name=name, spec=spec, client_id=client_id, params=dict(params or {}),
            description=description, target_weight=target_weight, min_weight=min_weight,
            max_weight=max_weight, created=now, updated=now, benchmark=benchmark, host=host,
            venue=venue,
        )
        self._entries[name] = entry
        self._save()
        return entry

    def update(self, name: str, **changes: Any) -> Entry:
        entry = replace(self.get(name), **changes, updated=time.time())
        self._entries[name] = entry
        self._save()
        return entry

    def remove(self, name: str) -> Entry:
        return self.update(name, removed=True, desired="stopped", enabled=False)
