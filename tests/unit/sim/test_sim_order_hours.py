"""Time in force and trading hours in the simulated venue: outsideRth is respected in matching,
DAY orders expire at their session's close (Cancelled, error 202) as a Gateway expires them,
GTC orders live on, also through a save and load of the venue's state."""

from __future__ import annotations

import pandas as pd
from pinned import SESSION
from simkit import make_venue, mid, order, place

from ats.sim.orders import OrderStatus

PRE_OPEN = "2026-11-18T13:00:00+00:00"  #: Wednesday, extended hours before the open
CLOSE = pd.Timestamp("2026-11-18T21:00:00+00:00").timestamp()  #: 16:00 New York
SATURDAY = "2026-11-21T15:00:00+00:00"


def test_an_order_without_outside_rth_waits_for_the_open() -> None:
    venue, clock, sink = make_venue(PRE_OPEN)
    o = place(venue, order(1, "BUY", "MKT"))
    venue.step()
    assert o.status == OrderStatus.SUBMITTED and sink.fills == []
    clock.set(SESSION)
    venue.step()
    assert o.status == OrderStatus.FILLED


def test_an_order_with_outside_rth_fills_in_extended_hours() -> None:
    venue, _, _ = make_venue(PRE_OPEN)
    assert place(venue, order(1, "BUY", "MKT", outside_rth=True)).status == OrderStatus.FILLED


def test_outside_rth_does_not_trade_on_a_day_without_a_session() -> None:
    venue, _, _ = make_venue(SATURDAY)
    assert place(venue, order(1, "BUY", "MKT", outside_rth=True)).status == \
        OrderStatus.SUBMITTED


def test_a_day_order_expires_at_the_close_as_cancelled_with_error_202() -> None:
    venue, clock, sink = make_venue(SESSION)
    o = place(venue, order(1, "BUY", "LMT", lmt=round(mid(venue) * 0.5, 2)))
    assert o.expires == CLOSE
    clock.t = CLOSE - 1
    venue.step()
    assert o.status == OrderStatus.SUBMITTED
    clock.t = CLOSE
    venue.step()
    assert o.status == OrderStatus.CANCELLED and (1, 202) in sink.errors
    assert sink.changes[-1] == (1, "Cancelled")


def test_a_day_order_placed_on_a_weekend_lives_until_the_next_session_closes() -> None:
    venue, _, _ = make_venue(SATURDAY)
    o = place(venue, order(1, "BUY", "LMT", lmt=1.0))
    assert o.expires == pd.Timestamp("2026-11-23T21:00:00+00:00").timestamp()  # Monday


def test_a_day_order_with_outside_rth_lives_through_the_after_hours() -> None:
    venue, _, _ = make_venue(SESSION)
    o = place(venue, order(1, "BUY", "LMT", lmt=1.0, outside_rth=True))
    assert o.expires == CLOSE + 4 * 3600  # 20:00 New York


def test_a_gtc_order_survives_the_close() -> None:
    venue, clock, _ = make_venue(SESSION)
    o = place(venue, order(1, "BUY", "LMT", lmt=1.0, tif="GTC"))
    clock.t = CLOSE + 3 * 86400
    venue.step()
    assert o.expires == 0.0 and o.status == OrderStatus.SUBMITTED


def test_saved_state_keeps_gtc_orders_and_expires_day_orders_of_a_closed_session() -> None:
    venue, _, _ = make_venue(SESSION)
    place(venue, order(1, "BUY", "LMT", lmt=1.0, tif="GTC"))
    place(venue, order(2, "BUY", "LMT", lmt=1.0, tif="DAY"))
    place(venue, order(3, "BUY", "LMT", lmt=1.0, transmit=False))
    saved = venue.to_json()
    later, clock, sink = make_venue(SESSION)
    later.load_json(saved)
    assert set(later.working) == {(7, 1), (7, 2), (7, 3)} and later.orders[(7, 3)].held
    clock.t = CLOSE + 3600
    assert later.expire_day_orders() == 2
    assert set(later.working) == {(7, 1)} and (2, 202) in sink.errors


def test_orders_of_an_older_state_file_load_with_the_defaults() -> None:
    venue, _, _ = make_venue(SESSION)
    place(venue, order(1, "BUY", "LMT", lmt=1.0, tif="GTC"))
    saved = venue.to_json()
    for o in saved["orders"]:
        for key in ("oca_type", "transmit", "held", "expires"):
            del o[key]
    later, _, _ = make_venue(SESSION)
    later.load_json(saved)
    o = later.orders[(7, 1)]
    assert (o.oca_type, o.transmit, o.held, o.expires) == (0, True, False, 0.0)


def test_an_ioc_order_cancels_what_it_cannot_fill_at_once() -> None:
    venue, _, sink = make_venue(SESSION)
    o = place(venue, order(1, "BUY", "LMT", lmt=1.0, tif="IOC"))
    assert o.status == OrderStatus.CANCELLED and (1, 202) in sink.errors
    filled = place(venue, order(2, "BUY", "MKT", tif="IOC"))
    assert filled.status == OrderStatus.FILLED
