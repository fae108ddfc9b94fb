"""What the order-contract tests share."""

from __future__ import annotations

from typing import Any

from bus.codec import Envelope, decode, encode


def over_the_bus(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the other side receives it: packed into an envelope and read back."""
    return decode(encode(Envelope("t", "s", 1, 0.0, body))).body
