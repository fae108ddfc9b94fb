"""Contracts: the venue's qualified contracts of the instruments a strategy trades or watches.

Each instrument is qualified once (its conId is known from then on), and a conId the host meets
first in the broker's book or an in-flight intent is looked up at the venue.
"""

from __future__ import annotations

from typing import Protocol

from ats.ib import adapter, parsing
from ats.sdk.instrument import Instrument


class Venue(Protocol):
    @property
    def ib(self) -> adapter.IB:
        """The connection's client (ib_async's IB)."""


class Contracts:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.instruments: dict[str, Instrument] = {}  #: key -> instrument
        self.by_key: dict[str, adapter.Contract] = {}  #: key -> qualified contract
        self.key_of: dict[int, str] = {}  #: conId -> key

    def add(self, inst: Instrument, contract: adapter.Contract) -> None:
        """Remember a qualified contract, unless its instrument is known already."""
        self.by_key.setdefault(inst.key, contract)
        self.instruments.setdefault(inst.key, inst)
        self.key_of.setdefault(contract.conId, inst.key)

    async def qualify(self, inst: Instrument) -> adapter.Contract:
        if inst.key in self.by_key:
            return self.by_key[inst.key]
        contract = parsing.to_contract(inst)
        qualified = await adapter.qualify(self.venue.ib, contract)
        if qualified is None:
            raise RuntimeError(f"venue does not know {inst.key}")
        self.by_key[inst.key] = qualified
        self.instruments[inst.key] = inst
        self.key_of[qualified.conId] = inst.key
        return qualified

    async def key_for_con_id(self, con_id: int) -> str | None:
        details = await self.venue.ib.reqContractDetailsAsync(adapter.Contract(conId=con_id))
        if not details:
            return None
        contract = adapter.details_contract(details[0])
        inst = parsing.from_contract(contract)
        self.instruments[inst.key] = inst
        self.by_key[inst.key] = contract
        self.key_of[con_id] = inst.key
        return inst.key
