"""The API clients of one Gateway: IB's cap, and the clientIds the system itself connects with.

IB: "each TWS session can receive up to 32 different client applications simultaneously"
(interactivebrokers.github.io/tws-api/connection.html; the EClient docs say the same of the
Gateway). Every strategy holds one connection with its own clientId, and so do the broker, the
data fetch, the scheduler and the doctor, so the registry refuses a strategy that would take a
venue past the cap rather than let its host be refused by the Gateway at every connect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ats.config import Config

MAX_API_CLIENTS = 32  #: simultaneous API clients one TWS or IB Gateway accepts
DOCTOR_CLIENT_ID = 99  #: `ats-ctl doctor`'s clientId unless --client-id says otherwise


def system_client_ids(cfg: Config, venue: Mapping[str, Any] | None = None) -> dict[str, int]:
    """What connects to the venue (default: [venue]) besides the strategies -> its clientId.
    The data fetch, the scheduler and the doctor use the first venue only."""
    venue = venue or cfg.venue
    if venue["name"] != cfg.venue["name"]:
        return {"broker": int(venue["master_client_id"])}
    return {
        "broker": int(venue["master_client_id"]),
        "data fetch": int(cfg.section("data")["client_id"]),
        "scheduler": int(cfg.section("scheduler")["client_id"]),
        "doctor": DOCTOR_CLIENT_ID,
    }


def venue_name(cfg: Config, venue: Mapping[str, Any] | None = None) -> str:
    venue = venue or cfg.venue
    where = f"{venue['host']}:{venue['port']}"
    return where if len(cfg.venues) == 1 else f"{venue['name']} ({where})"


def clients_after(strategy_ids: Iterable[int], system: Mapping[str, int], adding: int) -> int:
    """Distinct clientIds on the venue once `adding` new strategies (each a fresh id) join."""
    return len(set(strategy_ids) | set(system.values())) + adding


def refusal(venue: str, strategy_ids: Iterable[int], system: Mapping[str, int],
            adding: list[str]) -> str | None:
    """Why registering the strategies named in `adding` would take the venue past the cap, in
    one line, or None when they fit."""
    ids = list(strategy_ids)
    total = clients_after(ids, system, len(adding))
    if total <= MAX_API_CLIENTS:
        return None
    own = ", ".join(f"{label} {cid}" for label, cid in system.items())
    what = f"strategy {adding[0]!r}" if len(adding) == 1 else f"{len(adding)} strategies"
    room = MAX_API_CLIENTS - clients_after(ids, system, 0)
    return (f"{what} would make {total} API clients on venue {venue}, more than IB's "
            f"{MAX_API_CLIENTS} per Gateway: {len(ids)} strategies registered and the "
            f"system's own clientIds ({own}); room for {max(room, 0)} more")
