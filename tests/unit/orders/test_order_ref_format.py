import pytest

from ats.orders import ref as orderref


def test_make_names_strategy_and_intent() -> None:
    assert orderref.make("ltmt", 42) == "ats:ltmt:42"


def test_parse_round_trips() -> None:
    assert orderref.parse(orderref.make("mean_rev-2", 7)) == ("mean_rev-2", 7)


@pytest.mark.parametrize("ref", ["", "manual", "ats:Alpha:1", "ats:alpha:", "ats:alpha:x",
                                 "xats:alpha:1", "ats:alpha:1:2", "ats:-bad:1"])
def test_parse_returns_none_for_foreign_refs(ref: str) -> None:
    assert orderref.parse(ref) is None


def test_make_refuses_invalid_strategy_names() -> None:
    with pytest.raises(ValueError):
        orderref.make("Bad Name", 1)
