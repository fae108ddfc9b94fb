"""The host's execution book: each trade once, at its latest correction, as the ledger does."""

from __future__ import annotations

import pytest

from ats.host.executions import Booking, Executions, Version, seeded

SPY = "SPY.STK.SMART.USD"
FIRST, SECOND, THIRD = "0000e0d5.6574b2c3.01.01", "0000e0d5.6574b2c3.01.02", \
    "0000e0d5.6574b2c3.01.03"


class Book:
    """What LiveContext does with fills and commissions."""

    def __init__(self) -> None:
        self.positions: dict[str, float] = {}
        self.cash = 0.0

    def apply_fill(self, key: str, signed_qty: float, price: float, multiplier: float) -> None:
        self.positions[key] = self.positions.get(key, 0.0) + signed_qty
        self.cash -= signed_qty * price * multiplier

    def charge(self, commission: float) -> None:
        self.cash -= commission


def version(exec_id: str, quantity: float, price: float, key: str | None = SPY) -> Version:
    return Version(exec_id, 756733, key, quantity, price, 1.0)


@pytest.fixture
def book() -> Book:
    return Book()


def test_an_execution_is_booked_once(book: Book) -> None:
    ex = Executions(book)
    assert ex.book(version(FIRST, 100, 10.0)) is Booking.NEW
    assert ex.book(version(FIRST, 100, 10.0)) is Booking.DUPLICATE
    assert ex.charge(FIRST, 1.0) and not ex.charge(FIRST, 1.0)
    assert book.positions[SPY] == 100 and book.cash == pytest.approx(-1001.0)
    assert ex.is_current(FIRST) and not ex.is_correction(FIRST)


def test_a_correction_reverses_the_earlier_version_and_applies_its_own(book: Book) -> None:
    ex = Executions(book)
    ex.book(version(FIRST, 100, 10.0))
    assert ex.book(version(SECOND, 80, 10.5)) is Booking.CORRECTION
    assert book.positions[SPY] == 80 and book.cash == pytest.approx(-840.0)
    assert ex.is_current(SECOND) and ex.is_correction(SECOND)
    assert not ex.is_current(FIRST) and ex.knows(FIRST)


def test_the_commission_difference_is_charged_when_the_corrections_report_arrives(
        book: Book) -> None:
    ex = Executions(book)
    ex.book(version(FIRST, 100, 10.0))
    ex.charge(FIRST, 1.0)
    ex.book(version(SECOND, 100, 10.0))
    assert book.cash == pytest.approx(-1000.0)  # the first version's commission given back
    assert ex.charge(SECOND, 0.8)
    assert book.cash == pytest.approx(-1000.8)


def test_a_superseded_versions_late_commission_is_not_charged(book: Book) -> None:
    ex = Executions(book)
    ex.book(version(FIRST, 100, 10.0))
    ex.book(version(SECOND, 100, 11.0))
    assert not ex.charge(FIRST, 1.0)
    assert book.cash == pytest.approx(-1100.0)


def test_an_earlier_correction_arriving_late_is_ignored(book: Book) -> None:
    ex = Executions(book)
    ex.book(version(FIRST, 100, 10.0))
    ex.book(version(THIRD, 100, 12.0))
    assert ex.book(version(SECOND, 100, 11.0)) is Booking.STALE
    assert book.positions[SPY] == 100 and book.cash == pytest.approx(-1200.0)
    assert ex.is_current(THIRD) and not ex.is_current(SECOND)


def test_corrections_of_one_trade_leave_other_trades_alone(book: Book) -> None:
    ex = Executions(book)
    ex.book(version(FIRST, 100, 10.0))
    ex.book(version("0000e0d5.6574b2c4.01.01", -30, 12.0))
    ex.book(version(SECOND, 50, 10.0))
    assert book.positions[SPY] == 20 and book.cash == pytest.approx(-500.0 + 360.0)


def test_an_older_version_of_a_trade_the_broker_booked_is_ignored(book: Book) -> None:
    ex = Executions(book)
    ex.seed(seeded([[SECOND, 756733, 80.0, 10.5, 1.0, 0.4]], {}))
    assert ex.knows(FIRST)
    assert ex.book(version(FIRST, 100, 10.0)) is Booking.STALE
    assert not ex.charge(FIRST, 1.0) and not ex.charge(SECOND, 0.4)
    assert book.positions == {} and book.cash == 0.0  # the seeded book holds them already


def test_a_correction_of_a_trade_the_broker_booked_reverses_it_and_its_commission(
        book: Book) -> None:
    book.positions, book.cash = {SPY: 100.0}, -1001.0  # the broker's book, seeded
    ex = Executions(book)
    ex.seed(seeded([[FIRST, 756733, 100.0, 10.0, 1.0, 1.0]], {}))  # key not yet resolved
    assert ex.book(version(SECOND, 100, 9.0)) is Booking.CORRECTION
    ex.charge(SECOND, 1.0)
    assert book.positions[SPY] == 100 and book.cash == pytest.approx(-901.0)


def test_a_commission_pending_at_the_broker_is_charged_when_its_report_arrives(
        book: Book) -> None:
    ex = Executions(book)
    ex.seed(seeded([[FIRST, 756733, 100.0, 10.0, 1.0, None]], {756733: SPY}))
    assert ex.book(version(FIRST, 100, 10.0)) is Booking.DUPLICATE
    assert ex.charge(FIRST, 1.0)
    assert book.cash == pytest.approx(-1.0)


def test_ids_without_a_correction_number_are_booked_once_each(book: Book) -> None:
    ex = Executions(book)
    assert ex.book(version("sim-1", 10, 10.0)) is Booking.NEW
    assert ex.book(version("sim-2", 10, 10.0)) is Booking.NEW
    assert book.positions[SPY] == 20
