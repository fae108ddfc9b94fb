"""IBKR tiered commissions. An order's commission is a function of its cumulative
filled quantity, so each partial fill is charged the increase of that function."""

from __future__ import annotations

from ats.sim.universe import Instrument

#: (upper bound of monthly US shares, USD per share)
US_TIERS: tuple[tuple[float, float], ...] = (
    (300_000, 0.0035),
    (3_000_000, 0.002),
    (20_000_000, 0.0015),
    (100_000_000, 0.001),
    (float("inf"), 0.0005),
)
US_MIN_PER_ORDER = 0.35
US_MAX_FRACTION = 0.01
FUTURE_PER_CONTRACT = {"VX": 2.27, "VXM": 0.62}
EUR_RATE, EUR_MIN = 0.0005, 1.25
CAD_PER_SHARE, CAD_MIN, CAD_MAX_FRACTION = 0.01, 1.0, 0.005


def us_rate(monthly_shares: float) -> float:
    for bound, rate in US_TIERS:
        if monthly_shares <= bound:
            return rate
    return US_TIERS[-1][1]


def order_commission(inst: Instrument, cum_qty: float, cum_value: float,
                     monthly_shares_before: float) -> float:
    """Total commission for an order that has filled `cum_qty` for `cum_value`
    (price * qty * multiplier), in the instrument's currency."""
    if cum_qty <= 0:
        return 0.0
    if inst.sec_type == "FUT":
        return FUTURE_PER_CONTRACT.get(inst.klass, 1.0) * cum_qty
    if inst.currency == "EUR":
        return max(EUR_MIN, EUR_RATE * cum_value)
    if inst.currency == "CAD":
        return min(max(CAD_MIN, CAD_PER_SHARE * cum_qty), CAD_MAX_FRACTION * cum_value)
    raw = us_rate(monthly_shares_before) * cum_qty
    return min(max(US_MIN_PER_ORDER, raw), US_MAX_FRACTION * cum_value)


def fill_commission(inst: Instrument, cum_before: float, value_before: float, qty: float,
                    value: float, monthly_shares_before: float) -> float:
    """Commission charged for one fill of `qty` worth `value` (4 decimals, as IB reports)."""
    total_after = order_commission(inst, cum_before + qty, value_before + value,
                                   monthly_shares_before)
    total_before = order_commission(inst, cum_before, value_before, monthly_shares_before)
    return round(total_after - total_before, 4)
