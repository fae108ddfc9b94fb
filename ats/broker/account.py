"""The account's values as the broker's `account` request gives them (one Gateway or account
per venue)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def account_totals(account_values: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The broker's `account` values by tag (USD or BASE), summed over the venues (one
    Gateway or account each; rows without a venue are one venue's)."""
    per_venue = {(str(v.get("venue") or ""), str(v["tag"])): float(v["value"])
                 for v in account_values if v.get("currency") in ("USD", "BASE")}
    out: dict[str, float] = {}
    for (_, tag), value in per_venue.items():
        out[tag] = out.get(tag, 0.0) + value
    return out
