"""The admin's faults, as a Gateway shows them to its clients: a connectivity outage (1100,
then 1101 or 1102), a data-farm disconnect (2103/2105, then 2104/2106) and dropped sockets.

During an outage the server sends nothing to its clients and holds their requests; when it
ends the held requests are answered in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ats.sim import handlers

if TYPE_CHECKING:
    from ats.sim.server import Server

log = logging.getLogger("ats.sim.faults")


def broadcast_error(srv: Server, code: int, text: str) -> None:
    for s in list(srv.sessions.values()):
        s.error(-1, code, text)


async def outage(srv: Server, seconds: float, data_lost: bool) -> None:
    log.warning("outage begins for %.1fs data_lost=%s", seconds, data_lost)
    srv.outage = True
    broadcast_error(srv, 1100, "Connectivity between IB and Trader Workstation has been lost.")
    await asyncio.sleep(seconds)
    srv.outage = False
    if data_lost:
        for s in srv.sessions.values():
            s.mkt.clear()
            s.bars.clear()
            s.tbt.clear()
            s.depth.clear()
        broadcast_error(srv, 1101, "Connectivity between IB and Trader Workstation has been "
                                   "restored - data lost.")
    else:
        broadcast_error(srv, 1102, "Connectivity between IB and Trader Workstation has been "
                                   "restored - data maintained.")
    log.warning("outage ends")
    for s in list(srv.sessions.values()):
        held, s.held = s.held, []
        for fields in held:
            handlers.dispatch(srv, s, fields)


async def farm_disconnect(srv: Server, seconds: float) -> None:
    srv.farm_down = True
    broadcast_error(srv, 2103, "Market data farm connection is broken:usfarm")
    broadcast_error(srv, 2105, "HMDS data farm connection is broken:ushmds")
    await asyncio.sleep(seconds)
    srv.farm_down = False
    broadcast_error(srv, 2104, "Market data farm connection is OK:usfarm")
    broadcast_error(srv, 2106, "HMDS data farm connection is OK:ushmds")


def drop_client(srv: Server, client_id: int) -> bool:
    """Abort one client's socket; False if no client has that id."""
    s = srv.sessions.get(client_id)
    if s is None:
        return False
    log.warning("dropping client %s", client_id)
    s.abort()
    return True


def drop_all(srv: Server) -> int:
    n = len(srv.sessions)
    for s in list(srv.sessions.values()):
        s.abort()
    return n
