"""A small synthetic order book around the simulated quote, for reqMktDepth.

Level 0 is the quote itself; deeper levels step one tick away per level with sizes that grow
with depth. The book is a pure function of the quote, so a subscription only sends the rows
that changed since its last update.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sim.market import Quote

MAX_ROWS = 5  #: rows per side the simulator quotes (IB's SMART depth gives a few too)
MAKERS = ("NYSE", "ARCA", "NASDAQ", "BATS", "IEX")  #: marketMaker of smart-depth rows

ASK, BID = 0, 1  #: the `side` of updateMktDepth
INSERT, UPDATE, DELETE = 0, 1, 2  #: the `operation` of updateMktDepth


@dataclass(frozen=True)
class Level:
    side: int
    position: int
    price: float
    size: float


def book(q: Quote, rows: int, tick: float) -> list[Level]:
    """`rows` levels per side (at most MAX_ROWS), asks then bids."""
    n = max(1, min(rows, MAX_ROWS))
    out: list[Level] = []
    for side, top, top_size, step in ((ASK, q.ask, q.ask_size, tick),
                                      (BID, q.bid, q.bid_size, -tick)):
        for i in range(n):
            price = round(top + i * step, 10)
            if price <= 0:
                break
            out.append(Level(side, i, price, max(1.0, round(top_size * (1 + 0.5 * i)))))
    return out


def changes(old: list[Level], new: list[Level]) -> list[tuple[int, Level]]:
    """(operation, level) pairs that turn `old` into `new`."""
    before = {(lv.side, lv.position): lv for lv in old}
    after = {(lv.side, lv.position): lv for lv in new}
    out: list[tuple[int, Level]] = []
    for key, lv in after.items():
        prev = before.get(key)
        if prev is None:
            out.append((INSERT, lv))
        elif prev != lv:
            out.append((UPDATE, lv))
    out += [(DELETE, lv) for key, lv in before.items() if key not in after]
    return out
