from __future__ import annotations

import math

import pytest

from ats.sdk.instrument import Instrument
from ats.sdk.orders import OrderRequest

SPY = Instrument("SPY")


@pytest.mark.parametrize("qty", [0.0, math.nan, math.inf, -math.inf])
def test_an_order_for_no_or_no_finite_quantity_is_refused_where_it_is_made(qty: float) -> None:
    with pytest.raises(ValueError, match="quantity must be a non-zero number"):
        OrderRequest(SPY, qty)


def test_a_limit_or_stop_price_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="limit price must be a number"):
        OrderRequest(SPY, 1, "LMT", limit=math.nan)
    with pytest.raises(ValueError, match="stop price must be a number"):
        OrderRequest(SPY, -1, "STP", stop=math.inf)


def test_a_signed_finite_order_is_made() -> None:
    assert OrderRequest(SPY, -3, "STP LMT", limit=99.0, stop=100.0).quantity == -3
