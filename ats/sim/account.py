"""Cash, positions and P&L of one account, updated fill by fill.

avgCost follows IB: price * multiplier plus the opening commission per unit for a long, less it
for a short.
Stocks move cash by quantity * price; futures move cash only by realized P&L.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ats.sim.universe import FX_TO_USD, Instrument

BASE_CURRENCY = "USD"
#: one booked fill: (signed quantity, price, commission, "YYYYMM")
BookedFill = tuple[float, float, float, str]
STOCK_MARGIN = 0.5
FUTURE_MARGIN = {"VX": 15000.0, "VXM": 1500.0}


@dataclass
class Position:
    con_id: int
    qty: float = 0.0
    avg_cost: float = 0.0  #: per unit, times multiplier, commission included
    avg_price: float = 0.0  #: per unit, no multiplier, no commission
    realized: float = 0.0


@dataclass
class Account:
    name: str
    cash: dict[str, float] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    monthly_shares: dict[str, float] = field(default_factory=dict)  #: "YYYYMM" -> shares
    realized: float = 0.0  #: base currency
    day_start: dict[str, float] = field(default_factory=dict)  #: "YYYYMMDD" -> netliq

    def shares_this_month(self, month: str) -> float:
        return self.monthly_shares.get(month, 0.0)

    def apply_fill(self, inst: Instrument, signed_qty: float, price: float,
                   commission: float, month: str) -> float:
        """Book one fill; returns its realized P&L (net of this fill's commission when
        it closes a position, else 0)."""
        mult = float(inst.multiplier)
        pos = self.positions.setdefault(inst.con_id, Position(inst.con_id))
        cur = inst.currency
        realized = 0.0
        if inst.sec_type != "FUT":
            self.cash[cur] = self.cash.get(cur, 0.0) - signed_qty * price * mult - commission
            self.monthly_shares[month] = self.monthly_shares.get(month, 0.0) + abs(signed_qty)
        else:
            self.cash[cur] = self.cash.get(cur, 0.0) - commission
        qty = signed_qty
        closing = 0.0
        if pos.qty and (pos.qty > 0) != (qty > 0):
            closing = min(abs(qty), abs(pos.qty))
        fee_close = commission * closing / abs(qty) if qty else 0.0
        fee_open = commission - fee_close
        if closing:
            sign = 1.0 if pos.qty > 0 else -1.0
            gross = closing * sign * (price * mult - pos.avg_cost)
            realized = gross - fee_close
            if inst.sec_type == "FUT":
                self.cash[cur] += closing * sign * (price - pos.avg_price) * mult
            pos.qty -= sign * closing
            qty += sign * closing
            if abs(pos.qty) < 1e-9:
                pos.qty = 0.0
                pos.avg_cost = pos.avg_price = 0.0
        if abs(qty) > 1e-9:
            new_qty = pos.qty + qty
            # Signed: a long's basis is price plus its commission per unit, a short's is the
            # price less it (the short sale's proceeds, net).
            cost = pos.qty * pos.avg_cost + qty * price * mult + fee_open
            pos.avg_cost = cost / new_qty
            pos.avg_price = (abs(pos.qty) * pos.avg_price + abs(qty) * price) / abs(new_qty)
            pos.qty = new_qty
        pos.realized += realized
        self.realized += realized * FX_TO_USD.get(cur, 1.0)
        return round(realized, 6)

    def rebook(self, inst: Instrument, before: Sequence[BookedFill],
               after: Sequence[BookedFill]) -> list[float]:
        """Replace the fills of one contract this account booked (`before`, all of them, in
        order) by `after`, as an execution correction does: the position is rebuilt from
        `after`, and cash, realized P&L and monthly shares move by the difference. Returns
        the realized P&L of each fill of `after`."""
        was, now = Account(self.name), Account(self.name)
        for fill in before:
            was.apply_fill(inst, *fill)
        realized = [now.apply_fill(inst, *fill) for fill in after]
        for cur in set(was.cash) | set(now.cash):
            self.cash[cur] = self.cash.get(cur, 0.0) + now.cash.get(cur, 0.0) \
                - was.cash.get(cur, 0.0)
        for month in set(was.monthly_shares) | set(now.monthly_shares):
            self.monthly_shares[month] = self.monthly_shares.get(month, 0.0) \
                + now.monthly_shares.get(month, 0.0) - was.monthly_shares.get(month, 0.0)
        self.realized += now.realized - was.realized
        self.positions[inst.con_id] = now.positions.get(inst.con_id, Position(inst.con_id))
        return realized

    # ---- valuation -------------------------------------------------------------------
    def position_value(self, inst: Instrument, pos: Position, price: float,
                       ) -> tuple[float, float]:
        """(market value, unrealized P&L) of a position, in its currency."""
        mult = float(inst.multiplier)
        mv = pos.qty * price * mult
        unreal = mv - pos.qty * pos.avg_cost
        return mv, unreal

    def summary(self, lookup: Callable[[int], Instrument | None],
                price: Callable[[Instrument], float]) -> dict[str, float]:
        cash = sum(v * FX_TO_USD.get(c, 1.0) for c, v in self.cash.items())
        stock_mv = 0.0
        fut_unreal = 0.0
        unreal = 0.0
        gross = 0.0
        margin = 0.0
        for pos in self.positions.values():
            inst = lookup(pos.con_id)
            if inst is None or not pos.qty:
                continue
            fx = FX_TO_USD.get(inst.currency, 1.0)
            px = price(inst)
            mv, u = self.position_value(inst, pos, px)
            unreal += u * fx
            if inst.sec_type == "FUT":
                fut_unreal += pos.qty * (px - pos.avg_price) * inst.multiplier * fx
                margin += abs(pos.qty) * FUTURE_MARGIN.get(inst.klass, 5000.0)
            else:
                stock_mv += mv * fx
                gross += abs(mv) * fx
                margin += abs(mv) * fx * STOCK_MARGIN
        netliq = cash + stock_mv + fut_unreal
        return {
            "NetLiquidation": netliq,
            "TotalCashValue": cash,
            "GrossPositionValue": gross,
            "EquityWithLoanValue": netliq,
            "InitMarginReq": margin,
            "MaintMarginReq": margin * 0.8,
            "AvailableFunds": netliq - margin,
            "ExcessLiquidity": netliq - margin * 0.8,
            "BuyingPower": max(netliq - margin, 0.0) * 2,
            "UnrealizedPnL": unreal,
            "RealizedPnL": self.realized,
        }

    # ---- persistence -----------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cash": self.cash,
            "positions": [vars(p) for p in self.positions.values()],
            "monthly_shares": self.monthly_shares,
            "realized": self.realized,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        acc = cls(str(data["name"]), {str(k): float(v) for k, v in data["cash"].items()})
        for p in data["positions"]:
            pos = Position(int(p["con_id"]), float(p["qty"]), float(p["avg_cost"]),
                           float(p["avg_price"]), float(p["realized"]))
            acc.positions[pos.con_id] = pos
        acc.monthly_shares = {str(k): float(v) for k, v in data["monthly_shares"].items()}
        acc.realized = float(data["realized"])
        return acc
