"""A venue on a hand-driven clock, and a sink that records what the venue reports: the test kit
of the simulator's order tests; and a stand-in for a server session's socket."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ats.sim.clock import SimClock
from ats.sim.market import Market
from ats.sim.orders import SimExecution, SimOrder
from ats.sim.universe import Instrument, Universe
from ats.sim.venue import Venue

UNIVERSE = Universe()
SPY = UNIVERSE.by_symbol("SPY")
assert SPY is not None


class ManualClock(SimClock):
    """Sim time that moves only when told."""

    def __init__(self, start: str) -> None:
        super().__init__(pd.Timestamp(start).to_pydatetime())
        self.t = pd.Timestamp(start).timestamp()

    def timestamp(self) -> float:
        return self.t

    def set(self, when: str) -> None:
        self.t = pd.Timestamp(when).timestamp()


@dataclass
class Recorder:
    """What the venue reported: (client, order, status) per order message, fills, errors."""

    changes: list[tuple[int, str]] = field(default_factory=list)
    fills: list[SimExecution] = field(default_factory=list)
    errors: list[tuple[int, int]] = field(default_factory=list)

    def order_changed(self, order: SimOrder, inst: Instrument) -> None:
        self.changes.append((order.order_id, order.status))

    def order_filled(self, order: SimOrder, execution: SimExecution, inst: Instrument) -> None:
        self.fills.append(execution)

    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        self.errors.append((order_id, code))


def make_venue(start: str) -> tuple[Venue, ManualClock, Recorder]:
    clock = ManualClock(start)
    venue = Venue(UNIVERSE, Market(UNIVERSE, 1), clock, ["DU1"], 1_000_000.0)
    sink = Recorder()
    venue.sink = sink
    return venue, clock, sink


def order(order_id: int, action: str, kind: str, qty: float = 10.0, lmt: float | None = None,
          aux: float | None = None, tif: str = "DAY", **kw: object) -> SimOrder:
    assert SPY is not None
    return SimOrder(7, order_id, 0, "DU1", SPY.con_id, action, qty, kind, lmt, aux, tif,
                    **kw)  # type: ignore[arg-type]


def place(venue: Venue, o: SimOrder) -> SimOrder:
    assert SPY is not None
    venue.place(o, SPY)
    return venue.orders[(o.client_id, o.order_id)]


def mid(venue: Venue) -> float:
    assert SPY is not None
    return venue.price(SPY)


def at(ts: str) -> float:
    return pd.Timestamp(ts).timestamp()


def utc(ts: str) -> dt.datetime:
    return pd.Timestamp(ts).to_pydatetime()


class WrapperRecorder:
    """Stands in for an IB client's wrapper under its decoder: records each callback."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.ib = type("IB", (), {"TimezoneTWS": None})()
        self.defaultTimezone = dt.UTC

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *a: self.calls.append((name, a))


class FakeTransport:
    """Stands in for a session's socket: what the server wrote, and whether it closed it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True
