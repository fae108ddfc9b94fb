"""Per-strategy books built from IB executions and commission reports.

Rules (issue 5):
- every execution is recorded once, keyed by exec_id;
- IB corrections share the exec_id prefix (all but the last dot-separated field, which is
  the correction number); the highest correction number of a prefix is the trade's true
  version and replaces the earlier one in place (same position in the book's history);
- a commission counts for the version of the trade it was reported for; commissions of
  superseded versions are kept but no longer count; a commission that arrives before its
  execution is held until the execution arrives;
- attribution: orderRef (``ats:<strategy>:<id>``), else the clientId map, else UNATTRIBUTED;
- a transfer (ats.broker.transfers) moves part of a position between books, once per
  transfer_id, at its place in history: a later correction of an earlier trade recomputes the
  books with the transfer's quantity and price as recorded.

Average cost is kept per unit in price units (multiplier not applied) and excludes
commissions, so unrealized P&L = (mark - avg_cost) * position * multiplier. Single
currency: currencies are recorded but not converted.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ats.broker.transfers import KEY_PREFIX as TRANSFER_KEY
from ats.broker.transfers import Transfer
from ats.orders import ref as orderref
from ats.orders.events import IN, OUT, FillEvent, TransferLeg
from ats.orders.fills import CommissionReport, Execution, split_exec_id

UNATTRIBUTED = "unattributed"
EPS = 1e-9

POSITION_COLUMNS = [
    "strategy", "con_id", "symbol", "sec_type", "position", "avg_cost", "mark",
    "market_value", "unrealized_pnl", "realized_pnl", "commissions",
]
PNL_COLUMNS = [
    "strategy", "realized_pnl", "unrealized_pnl", "commissions", "realized_pnl_net", "cash",
    "market_value", "equity", "fills",
]
FILL_COLUMNS = [
    "exec_id", "strategy", "symbol", "con_id", "side", "shares", "price", "commission",
    "commission_pending", "realized_pnl", "order_ref", "client_id", "perm_id", "time",
    "sec_type", "multiplier",
]
EQUITY_COLUMNS = [
    "ts", "strategy", "cash", "market_value", "realized_pnl", "unrealized_pnl", "commissions",
    "equity",
]


def _snap(x: float) -> float:
    return 0.0 if abs(x) < EPS else x


@dataclass
class _Trade:
    execution: Execution
    strategy: str
    correction: int
    seq: int  #: arrival order of the first version; fixes the trade's place in history
    realized: float = 0.0  #: gross realized P&L of this trade at its place in history


@dataclass
class _Moved:
    transfer: Transfer
    seq: int  #: its place in history, among the trades'
    realized: float = 0.0  #: gross P&L it realized in the source book (non-zero at a price)


@dataclass
class _Book:
    """One strategy's position in one contract."""

    strategy: str
    con_id: int
    symbol: str
    sec_type: str
    multiplier: float
    position: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0  #: gross
    commissions: float = 0.0
    cash_flow: float = 0.0  #: -sum(signed shares * price * multiplier)
    seqs: list[int] = field(default_factory=list)  #: sorted trade seqs in this book
    keys: list[str] = field(default_factory=list)  #: trade prefixes, parallel to seqs

    def reset(self) -> None:
        self.position = self.avg_cost = self.realized = 0.0
        self.commissions = self.cash_flow = 0.0

    def trade(self, qty: float, price: float, multiplier: float) -> float:
        """Apply a signed fill; returns the gross P&L it realized."""
        pos = self.position
        new = _snap(pos + qty)
        realized = 0.0
        if pos == 0.0 or (pos > 0) == (qty > 0):
            if new != 0.0:
                self.avg_cost = (self.avg_cost * abs(pos) + price * abs(qty)) / abs(new)
        else:
            closed = min(abs(qty), abs(pos))
            realized = (price - self.avg_cost) * closed * math.copysign(1.0, pos) * multiplier
            if new == 0.0:
                self.avg_cost = 0.0
            elif (new > 0) != (pos > 0):
                self.avg_cost = price
        self.position = new
        self.realized += realized
        self.cash_flow -= qty * price * multiplier
        return realized


class Ledger:
    def __init__(
        self,
        client_strategies: Mapping[int, str] | None = None,
        starting_cash: Mapping[str, float] | None = None,
    ) -> None:
        self._client_strategies: dict[int, str] = dict(client_strategies or {})
        self._starting_cash: dict[str, float] = dict(starting_cash or {})
        self._seen: set[str] = set()  #: every exec_id ever applied, all versions
        self._trades: dict[str, _Trade] = {}  #: exec_id prefix -> current version
        self._commissions: dict[str, CommissionReport] = {}  #: exec_id -> report
        self._books: dict[tuple[str, int], _Book] = {}  #: (strategy, con_id) -> book
        self._moves: dict[str, _Moved] = {}  #: Transfer.key -> transfer booked
        self._marks: dict[int, float] = {}  #: con_id -> price given to mark()
        self._last_price: dict[int, float] = {}  #: con_id -> last fill price
        self._multipliers: dict[int, float] = {}  #: con_id -> multiplier of last fill
        self._equity_rows: list[dict[str, Any]] = []
        self._seq = 0

    # ---- input -------------------------------------------------------------------------

    def set_client_strategy(self, client_id: int, strategy: str) -> None:
        self._client_strategies[client_id] = strategy

    def set_starting_cash(self, strategy: str, cash: float) -> None:
        self._starting_cash[strategy] = cash

    def attribute(self, e: Execution) -> str:
        parsed = orderref.parse(e.order_ref)
        if parsed is not None:
            return parsed[0]
        return self._client_strategies.get(e.client_id, UNATTRIBUTED)

    def has_execution(self, exec_id: str) -> bool:
        return exec_id in self._seen

    def has_commission(self, exec_id: str) -> bool:
        return exec_id in self._commissions

    def apply_execution(self, e: Execution) -> bool:
        """Record ``e``; False (and no change) for an exec_id already recorded."""
        if e.exec_id in self._seen:
            return False
        self._seen.add(e.exec_id)
        prefix, correction = split_exec_id(e.exec_id)
        strategy = self.attribute(e)
        self._last_price[e.con_id] = e.price
        self._multipliers[e.con_id] = e.multiplier
        old = self._trades.get(prefix)
        if old is None:
            self._seq += 1
            trade = _Trade(e, strategy, correction, self._seq)
            self._trades[prefix] = trade
            book = self._book(strategy, e)
            book.seqs.append(trade.seq)
            book.keys.append(prefix)
            self._apply_trade(book, trade)
            return True
        if correction <= old.correction:
            return True  # an older version arriving late: recorded, not effective
        trade = _Trade(e, strategy, correction, old.seq)
        self._trades[prefix] = trade
        old_book = self._books[(old.strategy, old.execution.con_id)]
        new_book = self._book(strategy, e)
        if old_book is not new_book:
            i = old_book.seqs.index(old.seq)
            del old_book.seqs[i], old_book.keys[i]
            i = bisect.bisect(new_book.seqs, trade.seq)
            new_book.seqs.insert(i, trade.seq)
            new_book.keys.insert(i, prefix)
            self._recompute(old_book)
        new_book.symbol, new_book.multiplier = e.symbol, e.multiplier
        self._recompute(new_book)
        return True

    def apply_commission(self, c: CommissionReport) -> bool:
        """Record ``c`` once per exec_id; it counts once its execution is (or becomes) current."""
        if c.exec_id in self._commissions:
            return False
        self._commissions[c.exec_id] = c
        prefix, _ = split_exec_id(c.exec_id)
        trade = self._trades.get(prefix)
        if trade is not None and trade.execution.exec_id == c.exec_id:
            self._books[(trade.strategy, trade.execution.con_id)].commissions += c.commission
        return True

    def has_transfer(self, transfer_id: str) -> bool:
        return TRANSFER_KEY + transfer_id in self._moves

    def apply_transfer(self, t: Transfer) -> bool:
        """Book `t` (checked by the caller: ats.broker.transfers); False (and no change) for a
        transfer_id already booked."""
        if t.key in self._moves:
            return False
        self._seq += 1
        moved = _Moved(t, self._seq)
        self._moves[t.key] = moved
        self._multipliers.setdefault(t.con_id, t.multiplier)
        for strategy in (t.source, t.dest):
            book = self._books.get((strategy, t.con_id))
            if book is None:
                book = _Book(strategy, t.con_id, t.symbol, t.sec_type, t.multiplier)
                self._books[(strategy, t.con_id)] = book
            book.seqs.append(moved.seq)
            book.keys.append(t.key)
            self._apply_leg(book, moved)
        return True

    def replay(
        self, executions: Iterable[Execution | Transfer],
        commissions: Iterable[CommissionReport],
    ) -> None:
        """Executions and transfers in the order they were recorded, then commissions."""
        for e in executions:
            if isinstance(e, Transfer):
                self.apply_transfer(e)
            else:
                self.apply_execution(e)
        for c in commissions:
            self.apply_commission(c)

    def mark(self, prices: Mapping[int, float]) -> None:
        for con_id, price in prices.items():
            if price is not None and math.isfinite(price):
                self._marks[con_id] = float(price)

    def sample_equity(self, ts: float | datetime) -> None:
        when = (
            pd.Timestamp(ts.astimezone(UTC)) if isinstance(ts, datetime)
            else pd.Timestamp(ts, unit="s", tz="UTC")
        )
        for strategy in self.strategies():
            self._equity_rows.append({
                "ts": when, "strategy": strategy, "cash": self.cash(strategy),
                "market_value": self.market_value(strategy),
                "realized_pnl": self.realized_pnl(strategy),
                "unrealized_pnl": self.unrealized_pnl(strategy),
                "commissions": self.commissions(strategy), "equity": self.equity(strategy),
            })

    # ---- queries (BookView for the risk engine) -----------------------------------------

    def strategies(self) -> list[str]:
        names = set(self._starting_cash) | {s for s, _ in self._books}
        return sorted(names)

    def position(self, strategy: str, con_id: int) -> float:
        book = self._books.get((strategy, con_id))
        return book.position if book else 0.0

    def avg_cost(self, strategy: str, con_id: int) -> float:
        book = self._books.get((strategy, con_id))
        return book.avg_cost if book else 0.0

    def holdings(self, strategy: str, symbol: str) -> list[tuple[int, str, str, float]]:
        """(con_id, symbol, sec_type, multiplier) of `strategy`'s open books in `symbol`."""
        return [(b.con_id, b.symbol, b.sec_type, b.multiplier)
                for (s, _), b in sorted(self._books.items())
                if s == strategy and b.symbol == symbol and b.position != 0.0]

    def account_position(self, con_id: int) -> float:
        return _snap(sum(b.position for (_, c), b in self._books.items() if c == con_id))

    def account_positions(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for (_, con_id), b in self._books.items():
            out[con_id] = out.get(con_id, 0.0) + b.position
        return {c: _snap(q) for c, q in out.items()}

    def mark_price(self, con_id: int) -> float | None:
        return self._marks.get(con_id, self._last_price.get(con_id))

    def gross_exposure(self, strategy: str | None = None) -> float:
        """Sum of |position| * mark * multiplier; None = the account's net positions."""
        if strategy is not None:
            return sum(
                abs(b.position) * self._book_mark(b) * b.multiplier
                for (s, _), b in self._books.items() if s == strategy
            )
        total = 0.0
        for con_id, qty in self.account_positions().items():
            total += abs(qty) * (self.mark_price(con_id) or 0.0) * self._multipliers[con_id]
        return total

    def cash(self, strategy: str) -> float:
        return self._starting_cash.get(strategy, 0.0) + sum(
            b.cash_flow - b.commissions for b in self._strategy_books(strategy)
        )

    def market_value(self, strategy: str) -> float:
        return sum(
            b.position * self._book_mark(b) * b.multiplier for b in self._strategy_books(strategy)
        )

    def realized_pnl(self, strategy: str, net: bool = False) -> float:
        books = self._strategy_books(strategy)
        gross = sum(b.realized for b in books)
        return gross - sum(b.commissions for b in books) if net else gross

    def unrealized_pnl(self, strategy: str) -> float:
        return sum(self._unrealized(b) for b in self._strategy_books(strategy))

    def commissions(self, strategy: str) -> float:
        return sum(b.commissions for b in self._strategy_books(strategy))

    def equity(self, strategy: str) -> float:
        return self.cash(strategy) + self.market_value(strategy)

    def executions(self) -> list[Execution]:
        """Current version of every trade, in arrival order."""
        return [t.execution for t in sorted(self._trades.values(), key=lambda t: t.seq)]

    def booked(self, strategy: str) -> list[tuple[Execution, float | None]]:
        """The current version of each of `strategy`'s trades, in arrival order, with the
        commission it counts (None while its report is pending)."""
        out = []
        for t in sorted(self._trades.values(), key=lambda t: t.seq):
            if t.strategy == strategy:
                c = self._commissions.get(t.execution.exec_id)
                out.append((t.execution, None if c is None else c.commission))
        return out

    # ---- DataFrame views ----------------------------------------------------------------

    def position_rows(self, strategy: str | None = None,
                      con_id: int | None = None) -> list[dict[str, Any]]:
        """Plain-dict rows (cheap enough for the fill path), optionally one book's only."""
        rows = []
        for (s, c), b in sorted(self._books.items()):
            if (strategy is not None and s != strategy) or (con_id is not None and c != con_id):
                continue
            mark = self._book_mark(b)
            rows.append({
                "strategy": s, "con_id": c, "symbol": b.symbol, "sec_type": b.sec_type,
                "position": b.position, "avg_cost": b.avg_cost, "mark": mark,
                "market_value": b.position * mark * b.multiplier,
                "unrealized_pnl": self._unrealized(b), "realized_pnl": b.realized,
                "commissions": b.commissions,
            })
        return rows

    def pnl_row(self, strategy: str) -> dict[str, Any]:
        return {
            "strategy": strategy, "realized_pnl": self.realized_pnl(strategy),
            "unrealized_pnl": self.unrealized_pnl(strategy),
            "commissions": self.commissions(strategy),
            "realized_pnl_net": self.realized_pnl(strategy, net=True),
            "cash": self.cash(strategy), "market_value": self.market_value(strategy),
            "equity": self.equity(strategy),
            "fills": sum(1 for b in self._strategy_books(strategy) for k in b.keys
                         if not k.startswith(TRANSFER_KEY)),
        }

    def positions_df(self, strategy: str | None = None) -> pd.DataFrame:
        return pd.DataFrame(self.position_rows(strategy), columns=POSITION_COLUMNS)

    def pnl_df(self) -> pd.DataFrame:
        return pd.DataFrame([self.pnl_row(s) for s in self.strategies()], columns=PNL_COLUMNS)

    def fill_events(self, exec_ids: Iterable[str] | None = None) -> list[FillEvent]:
        """Each trade's latest version, in arrival order: the one shape of a fill, on the bus
        and (as rows) in every view. `exec_ids` picks some (any version of an execution)."""
        if exec_ids is None:
            trades = sorted(self._trades.values(), key=lambda t: t.seq)
        else:
            trades = [t for t in (self._trades.get(split_exec_id(x)[0]) for x in exec_ids) if t]
        events = []
        for t in trades:
            e = t.execution
            c = self._commissions.get(e.exec_id)
            events.append(FillEvent(
                exec_id=e.exec_id, strategy=t.strategy, symbol=e.symbol, con_id=e.con_id,
                side=e.side, shares=e.shares, price=e.price,
                commission=c.commission if c else 0.0, commission_pending=c is None,
                realized_pnl=t.realized, order_ref=e.order_ref, client_id=e.client_id,
                perm_id=e.perm_id, time=e.time.isoformat(), sec_type=e.sec_type,
                multiplier=e.multiplier))
        return events

    def fill_rows(self, exec_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """`fill_events` as plain rows (time as ISO text)."""
        return [f.row() for f in self.fill_events(exec_ids)]

    def transfer_events(self, transfer_ids: Iterable[str] | None = None) -> list[FillEvent]:
        """Each transfer as two fills of kind "transfer": its leg out of the source's book
        (side OUT) and into the destination's (side IN)."""
        moves = sorted(self._moves.values(), key=lambda m: m.seq) if transfer_ids is None else [
            m for m in (self._moves.get(TRANSFER_KEY + i) for i in transfer_ids) if m]
        events = []
        for m in moves:
            t = m.transfer
            for strategy, side, realized in ((t.source, OUT, m.realized), (t.dest, IN, 0.0)):
                events.append(FillEvent(
                    # one id per leg: views key fills by exec_id
                    exec_id=f"{t.key}.{side.lower()}", strategy=strategy, symbol=t.symbol,
                    con_id=t.con_id, side=side, shares=abs(t.quantity), price=t.price,
                    commission=0.0, commission_pending=False, realized_pnl=realized,
                    order_ref="", client_id=-1, perm_id=0, time=t.time, sec_type=t.sec_type,
                    multiplier=t.multiplier, transfer=TransferLeg(
                        transfer_id=t.transfer_id, position_change=t.leg(strategy),
                        source=t.source, dest=t.dest, by=t.by, reason=t.reason,
                        forced=t.forced)))
        return events

    def transfer_rows(self, transfer_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """`transfer_events` as plain rows, in the shape of a fill with ``kind: "transfer"``."""
        return [f.row() for f in self.transfer_events(transfer_ids)]

    def transfers(self) -> list[Transfer]:
        return [m.transfer for m in sorted(self._moves.values(), key=lambda m: m.seq)]

    def recent_fills(self, strategy: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
        """The last `limit` rows (0: all) of trades and transfers (``kind``), in the order they
        were booked, of one strategy or all."""
        seq = {t.execution.exec_id: t.seq for t in self._trades.values()}
        seq.update({m.transfer.transfer_id: m.seq for m in self._moves.values()})
        rows = sorted(self.fill_rows() + self.transfer_rows(),
                      key=lambda r: seq[r.get("transfer_id") or r["exec_id"]])
        rows = [r for r in rows if strategy is None or r["strategy"] == strategy]
        return rows[-limit:] if limit else rows

    def fills_df(self) -> pd.DataFrame:
        df = pd.DataFrame(self.fill_rows(), columns=FILL_COLUMNS)
        df["time"] = pd.to_datetime(df["time"])
        return df

    def equity_df(self) -> pd.DataFrame:
        return pd.DataFrame(self._equity_rows, columns=EQUITY_COLUMNS)

    def drain_equity(self) -> pd.DataFrame:
        """The samples taken since the last drain (for persisting), forgetting them here."""
        df = self.equity_df()
        self._equity_rows = []
        return df

    # ---- internals ----------------------------------------------------------------------

    def _book(self, strategy: str, e: Execution) -> _Book:
        key = (strategy, e.con_id)
        book = self._books.get(key)
        if book is None:
            book = _Book(strategy, e.con_id, e.symbol, e.sec_type, e.multiplier)
            self._books[key] = book
        return book

    def _strategy_books(self, strategy: str) -> list[_Book]:
        return [b for (s, _), b in self._books.items() if s == strategy]

    def _apply_trade(self, book: _Book, trade: _Trade) -> None:
        e = trade.execution
        trade.realized = book.trade(e.signed_shares, e.price, e.multiplier)
        c = self._commissions.get(e.exec_id)
        if c is not None:
            book.commissions += c.commission

    def _apply_leg(self, book: _Book, moved: _Moved) -> None:
        t = moved.transfer
        realized = book.trade(t.leg(book.strategy), t.price, t.multiplier)
        if book.strategy == t.source:
            moved.realized = realized

    def _recompute(self, book: _Book) -> None:
        book.reset()
        for key in book.keys:
            if key.startswith(TRANSFER_KEY):
                self._apply_leg(book, self._moves[key])
            else:
                self._apply_trade(book, self._trades[key])

    def _book_mark(self, b: _Book) -> float:
        mark = self.mark_price(b.con_id)
        return b.avg_cost if mark is None else mark

    def _unrealized(self, b: _Book) -> float:
        return (self._book_mark(b) - b.avg_cost) * b.position * b.multiplier
