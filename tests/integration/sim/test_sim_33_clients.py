"""33 real ib_async clients against the simulator, as against a Gateway: 32 connect, the 33rd is
refused with error 326 naming the cap and its connect fails; once one leaves, it gets in.

All in one event loop, with short timeouts and no startup fetches: the cap is about
connections, not what they ask for.
"""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB
from ib_async.ib import StartupFetchNONE

from ats.apiclients import MAX_API_CLIENTS
from ats.sim.process import SimProcess

FIRST_ID = 300  #: clear of the ids the module's other fixtures hand out


async def connect(sim: SimProcess, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync(sim.host, sim.port, clientId=client_id, timeout=5,
                          fetchFields=StartupFetchNONE)
    return ib


async def scenario(sim: SimProcess) -> None:
    admitted = await asyncio.gather(*(connect(sim, FIRST_ID + i)
                                      for i in range(MAX_API_CLIENTS)))
    try:
        assert all(ib.isConnected() for ib in admitted)
        assert len(sim.admin.call("status")["clients"]) == MAX_API_CLIENTS

        extra = IB()
        errors: list[tuple[int, str]] = []
        extra.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
        extra_id = FIRST_ID + MAX_API_CLIENTS
        # ib_async logs "Peer closed connection" but waits out its timeout: keep it short
        with pytest.raises((ConnectionError, TimeoutError)):
            await extra.connectAsync(sim.host, sim.port, clientId=extra_id, timeout=1.5,
                                     fetchFields=StartupFetchNONE)
        extra.disconnect()
        assert (326, f"Unable to connect: the maximum of {MAX_API_CLIENTS} API clients is "
                     "already connected. Retry when one disconnects.") in errors
        assert all(ib.isConnected() for ib in admitted)  # nobody else was dropped
        assert extra_id not in sim.admin.call("status")["clients"]

        admitted.pop().disconnect()
        for _ in range(100):  # the simulator forgets the client once it sees the socket close
            if len(sim.admin.call("status")["clients"]) < MAX_API_CLIENTS:
                break
            await asyncio.sleep(0.02)
        admitted.append(await connect(sim, extra_id))
        assert extra_id in sim.admin.call("status")["clients"]
    finally:
        for ib in admitted:
            ib.disconnect()


def test_32_clients_connect_and_the_33rd_is_refused_with_the_cap(sim: SimProcess) -> None:
    asyncio.run(scenario(sim))
