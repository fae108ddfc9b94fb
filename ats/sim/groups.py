"""Linked orders: brackets (parentId and transmit) and One-Cancels-All groups (ocaGroup and
ocaType), as pure rules over the venue's orders. The venue applies what they return.

- **Transmit.** An order placed with transmit=False is held, unseen by the market, until the
  last order of its group (the parent and the children naming it) arrives with transmit=True;
  then the whole group goes out at once.
- **Attached orders.** A child (parentId set) waits, PreSubmitted, until its parent has
  filled, and is cancelled with its parent. The children of one parent are one-cancels-all
  among themselves (reduced with block), as IB links a bracket's profit taker and stop loss.
- **OCA types** (IB's `ocaType`): 1 cancels the group's other orders when one fills, even in
  part, with block; 2 reduces their quantity in proportion to the fill, with block; 3 reduces
  them without block. *With block* means only one order of the group executes at a time: the
  others are cancelled or reduced before anything else can match. *Without block* the others
  keep matching in the same step and are reduced after it, so a fast market can overfill.
  An ocaGroup with type 0 is taken as type 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ats.sim.orders import OrderStatus, SimOrder

CANCEL_WITH_BLOCK = 1  #: cancel the others on a fill, one order executing at a time
REDUCE_WITH_BLOCK = 2  #: reduce the others by the fill, one order executing at a time
REDUCE_NO_BLOCK = 3  #: reduce the others by the fill, all of them executing
OCA_TYPES = frozenset({0, CANCEL_WITH_BLOCK, REDUCE_WITH_BLOCK, REDUCE_NO_BLOCK})
MIN_QTY = 1e-9


@dataclass(frozen=True)
class Reduce:
    """What a fill does to one other order of its OCA group: cancel it, or set its total
    quantity to `total_qty` (cancelled when nothing would remain)."""

    order: SimOrder
    total_qty: float  #: 0.0: cancel
    block: bool  #: apply before anything else matches

    @property
    def cancels(self) -> bool:
        return self.total_qty - self.order.filled <= MIN_QTY


def group_of(order: SimOrder, orders: Iterable[SimOrder]) -> list[SimOrder]:
    """The bracket `order` belongs to: its parent (or itself) first, then the children, in
    order id order. Only the same client's orders link: parentId is a client's order id."""
    root = order.parent_id or order.order_id
    linked = [o for o in orders if o.client_id == order.client_id
              and (o.order_id == root or o.parent_id == root)]
    return sorted(linked, key=lambda o: (o.parent_id != 0, o.order_id))


def children_of(parent: SimOrder, orders: Iterable[SimOrder]) -> list[SimOrder]:
    return [o for o in orders if o.client_id == parent.client_id
            and o.parent_id == parent.order_id and o is not parent]


def waiting_status(order: SimOrder, parent: SimOrder | None) -> str:
    """The status an order shows once transmitted: a child whose parent has not filled waits
    PreSubmitted; anything else is Submitted."""
    if parent is not None and parent.status != OrderStatus.FILLED:
        return OrderStatus.PRE_SUBMITTED
    return OrderStatus.SUBMITTED


def oca_type(order: SimOrder) -> int:
    return order.oca_type if order.oca_type in (REDUCE_WITH_BLOCK, REDUCE_NO_BLOCK) \
        else CANCEL_WITH_BLOCK


def after_fill(order: SimOrder, qty: float, working: Iterable[SimOrder]) -> list[Reduce]:
    """What a fill of `qty` of `order` (already booked on it) does to the other working orders
    linked to it: its explicit OCA group, and its bracket siblings."""
    before = order.remaining + qty  # the filled order's remaining quantity before this fill
    out: dict[int, Reduce] = {}
    for other in working:
        if other is order or other.is_done:
            continue
        if order.oca_group and other.oca_group == order.oca_group \
                and other.account == order.account:
            kind = oca_type(order)
        elif order.parent_id and other.parent_id == order.parent_id \
                and other.client_id == order.client_id:
            kind = REDUCE_WITH_BLOCK
        else:
            continue
        if kind == CANCEL_WITH_BLOCK:
            total = other.filled
        else:
            share = qty / before if before > MIN_QTY else 1.0
            total = other.filled + other.remaining * (1.0 - share)
        out[id(other)] = Reduce(other, round(total, 8), block=kind != REDUCE_NO_BLOCK)
    return list(out.values())
