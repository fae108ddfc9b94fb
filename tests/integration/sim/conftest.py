"""Fixtures: a real simulator subprocess and ib_async clients connected to it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from ib_async import IB
from pinned import SESSION

from ats.sim.process import SimProcess

_client_ids = itertools.count(1)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    # Pacing of historical requests has its own tests (test_sim_pacing_ib_async.py).
    with SimProcess(seed=7, start=SESSION,
                    extra_args=["--max-msg-rate", "50", "--no-history-pacing"]) as proc:
        yield proc


@pytest.fixture
def ib(sim: SimProcess) -> Iterator[IB]:
    client = IB()
    client.connect(sim.host, sim.port, clientId=next(_client_ids), timeout=10)
    yield client
    client.disconnect()


@pytest.fixture
def new_client_id() -> Callable[[], int]:
    """A factory of client ids not used by any other test of this session."""
    return lambda: next(_client_ids)
