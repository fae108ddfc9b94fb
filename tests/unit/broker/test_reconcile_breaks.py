from ats.broker.reconcile import Break, reconcile


def test_equal_positions_have_no_breaks() -> None:
    assert reconcile({1: 10.0, 2: 0.0}, {1: 10.0}) == []


def test_differences_and_missing_contracts_are_breaks() -> None:
    assert reconcile({1: 10.0, 2: 5.0}, {1: 7.0, 3: -2.0}) == [
        Break(1, 10.0, 7.0, 3.0), Break(2, 5.0, 0.0, 5.0), Break(3, 0.0, -2.0, 2.0)]


def test_tolerance_absorbs_float_noise() -> None:
    assert reconcile({1: 0.1 + 0.2}, {1: 0.3}) == []
