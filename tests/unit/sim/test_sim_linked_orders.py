"""Brackets and One-Cancels-All groups in the simulated venue: children wait for the group's
transmit and for their parent's fill, die with their parent, and OCA types 1-3 cancel or reduce
the other orders of a group, with or without block."""

from __future__ import annotations

import pytest
from ib_async.decoder import Decoder
from pinned import SESSION
from simkit import SPY, WrapperRecorder, make_venue, mid, order, place

from ats.sim import groups
from ats.sim import messages as M
from ats.sim.orders import OrderStatus, SimOrder
from ats.sim.protocol import frame, split_fields

PRE_OPEN = "2026-11-18T13:00:00+00:00"  #: the Wednesday of SESSION, before the open


def test_held_orders_are_silent_until_the_last_order_of_the_bracket_is_transmitted() -> None:
    venue, _, sink = make_venue(SESSION)
    px = mid(venue)
    parent = place(venue, order(1, "BUY", "LMT", lmt=round(px * 0.5, 2), transmit=False))
    take = place(venue, order(2, "SELL", "LMT", lmt=round(px * 2, 2), parent_id=1,
                              transmit=False))
    assert sink.changes == [] and parent.held and take.held
    stop = place(venue, order(3, "SELL", "STP", aux=round(px * 0.3, 2), parent_id=1))
    assert not (parent.held or take.held or stop.held)
    assert sink.changes == [(1, "Submitted"), (2, "PreSubmitted"), (3, "PreSubmitted")]


def test_a_child_does_not_fill_before_its_parent() -> None:
    venue, _, sink = make_venue(SESSION)
    px = mid(venue)
    place(venue, order(1, "BUY", "LMT", lmt=round(px * 0.5, 2), transmit=False))
    child = place(venue, order(2, "SELL", "MKT", parent_id=1))
    venue.step()
    assert child.status == OrderStatus.PRE_SUBMITTED and sink.fills == []


def test_children_go_to_work_when_the_parent_fills() -> None:
    venue, _, sink = make_venue(SESSION)
    px = mid(venue)
    parent = place(venue, order(1, "BUY", "MKT", transmit=False))
    take = place(venue, order(2, "SELL", "LMT", lmt=round(px * 2, 2), parent_id=1,
                              transmit=False))
    stop = place(venue, order(3, "SELL", "STP", aux=round(px * 0.3, 2), parent_id=1))
    assert parent.status == OrderStatus.FILLED
    assert take.status == stop.status == OrderStatus.SUBMITTED
    assert [e.order_id for e in sink.fills] == [1]


def test_cancelling_the_parent_cancels_its_children() -> None:
    venue, _, sink = make_venue(SESSION)
    px = mid(venue)
    place(venue, order(1, "BUY", "LMT", lmt=round(px * 0.5, 2), transmit=False))
    place(venue, order(2, "SELL", "LMT", lmt=round(px * 2, 2), parent_id=1, transmit=False))
    place(venue, order(3, "SELL", "STP", aux=round(px * 0.3, 2), parent_id=1))
    venue.cancel(7, 1)
    assert {venue.orders[(7, i)].status for i in (1, 2, 3)} == {OrderStatus.CANCELLED}
    assert sorted(e for e in sink.errors if e[1] == 202) == [(1, 202), (2, 202), (3, 202)]
    assert not venue.working


def test_when_a_bracket_child_fills_its_sibling_is_cancelled() -> None:
    venue, _, _ = make_venue(SESSION)
    px = mid(venue)
    place(venue, order(1, "BUY", "MKT", transmit=False))
    take = place(venue, order(2, "SELL", "LMT", lmt=round(px * 0.5, 2), parent_id=1,
                              transmit=False))
    stop = place(venue, order(3, "SELL", "STP", aux=round(px * 0.3, 2), parent_id=1))
    assert take.status == OrderStatus.FILLED and stop.status == OrderStatus.CANCELLED


def test_a_child_of_an_unknown_parent_is_rejected() -> None:
    venue, _, sink = make_venue(SESSION)
    venue.place(order(2, "SELL", "MKT", parent_id=99), SPY)
    assert (2, 201) in sink.errors and (7, 2) not in venue.orders


def _oca_pair(oca_type: int) -> tuple[SimOrder, SimOrder, object]:
    """Two marketable buys in one OCA group, placed before the open; then the open."""
    venue, clock, _ = make_venue(PRE_OPEN)
    a = place(venue, order(1, "BUY", "MKT", oca_group="g", oca_type=oca_type))
    b = place(venue, order(2, "BUY", "MKT", oca_group="g", oca_type=oca_type))
    clock.set(SESSION)
    venue.step()
    return a, b, venue


def test_oca_type_1_cancels_the_others_when_one_fills() -> None:
    a, b, _ = _oca_pair(1)
    assert a.status == OrderStatus.FILLED and b.status == OrderStatus.CANCELLED
    assert b.filled == 0


def test_oca_type_2_reduces_the_others_with_block_so_only_one_fills() -> None:
    a, b, _ = _oca_pair(2)
    assert a.status == OrderStatus.FILLED and b.filled == 0
    assert b.status == OrderStatus.CANCELLED  # reduced to nothing


def test_oca_type_3_has_no_block_so_both_can_fill_in_the_same_step() -> None:
    a, b, _ = _oca_pair(3)
    assert a.status == b.status == OrderStatus.FILLED


def test_a_partial_fill_reduces_a_resting_order_of_its_group_after_the_step() -> None:
    venue, _, sink = make_venue(SESSION)
    px = mid(venue)
    rest = place(venue, order(1, "BUY", "LMT", qty=100, lmt=round(px * 0.5, 2),
                              oca_group="g", oca_type=3))
    ask_size = venue.market.quote(SPY, venue.clock.timestamp()).ask_size
    big = place(venue, order(2, "BUY", "MKT", qty=ask_size * 4, oca_group="g", oca_type=3))
    assert big.filled == ask_size  # the quoted size, a quarter of the order
    assert rest.total_qty == pytest.approx(75.0) and rest.status == OrderStatus.SUBMITTED
    assert sink.changes[-1] == (1, "Submitted")  # the reduced quantity, reported


def test_a_complete_fill_leaves_nothing_of_the_others() -> None:
    venue, _, _ = make_venue(SESSION)
    px = mid(venue)
    rest = place(venue, order(1, "BUY", "LMT", qty=100, lmt=round(px * 0.5, 2),
                              oca_group="g", oca_type=2))
    place(venue, order(2, "BUY", "MKT", qty=40, oca_group="g", oca_type=2))
    assert rest.status == OrderStatus.CANCELLED


@pytest.mark.parametrize(("kind", "expected"), [(2, 60.0), (3, 60.0), (1, 0.0)])
def test_a_partial_fill_reduces_the_others_in_proportion(kind: int, expected: float) -> None:
    filled = order(1, "BUY", "LMT", qty=100, lmt=1.0, oca_group="g", oca_type=kind)
    other = order(2, "BUY", "LMT", qty=100, lmt=1.0, oca_group="g", oca_type=kind)
    filled.filled = 40.0
    (r,) = groups.after_fill(filled, 40.0, [filled, other])
    assert r.total_qty == pytest.approx(expected) and r.block == (kind != 3)
    assert r.cancels == (kind == 1)


def test_orders_of_other_groups_or_accounts_are_untouched() -> None:
    filled = order(1, "BUY", "LMT", qty=100, lmt=1.0, oca_group="g", oca_type=1)
    other_group = order(2, "BUY", "LMT", qty=100, lmt=1.0, oca_group="h", oca_type=1)
    other_account = order(3, "BUY", "LMT", qty=100, lmt=1.0, oca_group="g", oca_type=1)
    other_account.account = "DU2"
    assert groups.after_fill(filled, 100.0, [filled, other_group, other_account]) == []


def test_open_order_reports_the_parent_id_and_oca_type() -> None:
    assert SPY is not None
    o = order(5, "SELL", "STP", aux=1.0, parent_id=4, oca_group="g", oca_type=2)
    o.perm_id = 1001
    wrapper = WrapperRecorder()
    Decoder(wrapper, 176).interpret(  # type: ignore[arg-type]
        split_fields(frame(M.open_order(o, SPY))[4:]))
    name, (_, _, decoded, _) = wrapper.calls[-1]
    assert name == "openOrder"
    assert (decoded.parentId, decoded.ocaGroup, decoded.ocaType) == (4, "g", 2)
