"""Contracts: the venue's qualified contracts of the instruments a strategy trades or watches.

Each instrument is qualified once (its conId is known from then on), and a conId the host meets
first in the broker's book or an in-flight intent is looked up at the venue.
"""

from __future__ import annotations

from typing import Any, Protocol

from ats.ib import adapter, parsing
from ats.sdk.instrument import Instrument


class Venue(Protocol):
    @property
    def ib(self) -> Any:
        """The connection's client (ib_async's IB)."""


class Contracts:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.instruments: dict[str, Instrument] = {}  #: key -> instrument
        self.by_key: dict[str, Any] = {}  #: key -> qualified contract
        self.key_of: dict[int, str] = {}  #: conId -> key

    def add(self, inst: Instrument, contract: Any) -> None:
        """Remember a qualified contract, unless its instrument is known already."""
        self.by_key.setdefault(inst.key, contract)
        self.instruments.setdefault(inst.key, inst)
        self.key_of.setdefault(contract.conId, inst.key)

    async def qualify(self, inst: Instrument) -> Any:
        if inst.key in self.by_key:
            return self.by_key[inst.key]
        contract = parsing.to_contract(inst)
        qualified = await self.venue.ib.qualifyContractsAsync(contract)
        if not qualified or not getattr(qualified[0], "conId", 0):
            raise RuntimeError(f"venue does not know {inst.key}")
        self.by_key[inst.key] = qualified[0]
        self.instruments[inst.key] = inst
        self.key_of[qualified[0].conId] = inst.key
        return qualified[0]

    async def key_for_con_id(self, con_id: int) -> str | None:
        details = await self.venue.ib.reqContractDetailsAsync(adapter.Contract(conId=con_id))
        if not details:
            return None
        inst = parsing.from_contract(details[0].contract)
        self.instruments[inst.key] = inst
        self.by_key[inst.key] = details[0].contract
        self.key_of[con_id] = inst.key
        return inst.key
