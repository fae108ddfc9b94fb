"""What-if orders: the `whatIf` flag deep inside placeOrder, and the margin and commission
preview a Gateway answers instead of executing the order.

The preview uses the account's own margin rules (`account.py`: stocks at STOCK_MARGIN of
their value, futures per contract, maintenance at 80% of initial) and the tiered
commissions of `commissions.py` at the current price; equity with loan moves by the
commission only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sim import versions as V
from ats.sim.account import FUTURE_MARGIN, STOCK_MARGIN, Account
from ats.sim.commissions import order_commission
from ats.sim.protocol import Reader
from ats.sim.universe import FX_TO_USD, Instrument

MAINT_OF_INIT = 0.8  #: as Account.summary reports MaintMarginReq


@dataclass(frozen=True)
class OrderTail:
    """What the venue uses from placeOrder's fields after `outsideRth`."""

    oca_type: int
    what_if: bool


def read_what_if(r: Reader, v: int) -> bool:
    return read_tail(r, v).what_if


def read_tail(r: Reader, v: int) -> OrderTail:
    """Read placeOrder from just after `outsideRth` to `whatIf` (ibapi's EClient.placeOrder
    order of fields, server versions 100..176; BAG orders are not listed by the venue).
    Every field this reads was added before version 100 but modelCode (MODELS_SUPPORT)."""
    r.skip(1)  # hidden
    r.skip(8)  # sharesAllocation, discretionaryAmt, goodAfterTime, goodTillDate, fa x4
    if v >= V.MODELS_SUPPORT:
        r.skip(1)  # modelCode
    r.skip(3)  # shortSaleSlot, designatedLocation, exemptCode
    oca_type = r.int(0)
    # rule80A .. stockRangeUpper (14), overridePercentageConstraints, volatility,
    # volatilityType
    r.skip(17)
    delta_neutral_type = r.str()
    r.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_type:
        r.skip(8)  # conId, settlingFirm, clearingAccount/Intent, openClose, shortSale...
    r.skip(4)  # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = r.float()
    if increment is not None and increment > 0:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.str():  # hedgeType
        r.skip(1)  # hedgeParam
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool():  # deltaNeutralContract present
        r.skip(3)
    if r.str():  # algoStrategy
        r.skip(2 * r.int())
    r.skip(1)  # algoId
    return OrderTail(oca_type, r.bool())


@dataclass(frozen=True)
class Preview:
    """An OrderState's what-if fields, as the strings and numbers IB sends."""

    init_before: float
    maint_before: float
    equity_before: float
    init_after: float
    maint_after: float
    equity_after: float
    commission: float
    currency: str

    def order_state_fields(self, v: int) -> list[object]:
        """initMarginBefore .. warningText, in openOrder's order for version `v`."""
        out: list[object] = []
        if v >= V.WHAT_IF_EXT_FIELDS:
            out += [_money(self.init_before), _money(self.maint_before),
                    _money(self.equity_before),
                    _money(self.init_after - self.init_before),
                    _money(self.maint_after - self.maint_before),
                    _money(self.equity_after - self.equity_before)]
        out += [_money(self.init_after), _money(self.maint_after), _money(self.equity_after),
                self.commission, self.commission, self.commission, self.currency, ""]
        return out


def _money(x: float) -> str:
    return f"{x:.2f}"


def _margin(inst: Instrument, qty: float, price: float) -> float:
    fx = FX_TO_USD.get(inst.currency, 1.0)
    if inst.sec_type == "FUT":
        return abs(qty) * FUTURE_MARGIN.get(inst.klass, 5000.0)
    return abs(qty) * price * float(inst.multiplier) * fx * STOCK_MARGIN


def preview(account: Account, summary: dict[str, float], inst: Instrument, action: str,
            qty: float, price: float, month: str) -> Preview:
    """The account's margins and equity before and after a fill of the whole order at
    `price`, and the order's commission."""
    pos = account.positions.get(inst.con_id)
    held = pos.qty if pos else 0.0
    signed = qty if action == "BUY" else -qty
    init_before = summary["InitMarginReq"]
    init_after = init_before - _margin(inst, held, price) + _margin(inst, held + signed, price)
    commission = round(order_commission(inst, qty, qty * price * float(inst.multiplier),
                                        account.shares_this_month(month)), 4)
    equity_before = summary["EquityWithLoanValue"]
    fx = FX_TO_USD.get(inst.currency, 1.0)
    return Preview(init_before, init_before * MAINT_OF_INIT, equity_before, init_after,
                   init_after * MAINT_OF_INIT, equity_before - commission * fx, commission,
                   inst.currency)
