"""Property test: the ledger against an independent from-scratch oracle.

Random fills, partial fills, corrections, duplicates and commissions arriving before or
after their executions, in any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.broker.ledger import UNATTRIBUTED, Ledger
from ats.orders.fills import CommissionReport, Execution

CONTRACTS = {1: ("AAPL", 1.0), 2: ("ES", 50.0)}
REFS = [("ats:alpha:1", 11), ("ats:beta:2", 12), ("", 12), ("", 77)]  # (orderRef, clientId)
CLIENTS = {12: "beta"}
START = {"alpha": 1_000.0, "beta": 2_000.0}


@dataclass(frozen=True)
class Version:
    trade: int
    correction: int
    ref: int
    side: str
    shares: int
    cents: int
    fee_cents: int | None

    @property
    def exec_id(self) -> str:
        return f"0001f4e5.{self.trade:08x}.01.{self.correction:02x}"


def to_execution(v: Version, con_id: int) -> Execution:
    symbol, mult = CONTRACTS[con_id]
    ref, client = REFS[v.ref]
    return Execution(v.exec_id, 500 + v.trade, v.trade, client, ref, "DU1", con_id, symbol,
                     "STK", "USD", mult, v.side, float(v.shares), v.cents / 100,
                     datetime(2026, 1, 2, tzinfo=UTC))


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, Version, int]]:
    n_trades = draw(st.integers(1, 12))
    events: list[tuple[str, Version, int]] = []
    for t in range(1, n_trades + 1):
        con_id = draw(st.sampled_from(sorted(CONTRACTS)))
        n_versions = draw(st.integers(1, 3))
        base_ref = draw(st.integers(0, len(REFS) - 1))
        for c in range(1, n_versions + 1):
            v = Version(
                trade=t, correction=c,
                ref=draw(st.sampled_from([base_ref, base_ref, draw(st.integers(0, 3))])),
                side=draw(st.sampled_from(["BOT", "SLD"])),
                shares=draw(st.integers(1, 300)),
                cents=draw(st.integers(100, 500_000)),
                fee_cents=draw(st.one_of(st.none(), st.integers(0, 500))),
            )
            events.append(("x", v, con_id))
            if v.fee_cents is not None:
                events.append(("c", v, con_id))
    dups = draw(st.lists(st.sampled_from(events), max_size=5))
    return draw(st.permutations(events + dups))


def oracle(events: list[tuple[str, Version, int]]) -> dict[str, object]:
    first_seen: dict[int, int] = {}
    latest: dict[int, tuple[Version, int]] = {}
    fees: dict[str, float] = {}
    for i, (kind, v, con_id) in enumerate(events):
        if kind == "x":
            first_seen.setdefault(v.trade, i)
            if v.trade not in latest or v.correction > latest[v.trade][0].correction:
                latest[v.trade] = (v, con_id)
        elif v.fee_cents is not None:
            fees.setdefault(v.exec_id, v.fee_cents / 100)

    def owner(v: Version) -> str:
        ref, client = REFS[v.ref]
        return ref.split(":")[1] if ref else CLIENTS.get(client, UNATTRIBUTED)

    pos: dict[tuple[str, int], float] = {}
    basis: dict[tuple[str, int], float] = {}  # cost of the open position, price units
    realized: dict[str, float] = {}
    cash: dict[str, float] = dict(START)
    fee_total: dict[str, float] = {}
    for trade in sorted(latest, key=first_seen.__getitem__):
        v, con_id = latest[trade]
        s, mult = owner(v), CONTRACTS[con_id][1]
        key = (s, con_id)
        q = v.shares if v.side == "BOT" else -v.shares
        p = v.cents / 100
        fee = fees.get(v.exec_id, 0.0)
        cash[s] = cash.get(s, 0.0) - q * p * mult - fee
        fee_total[s] = fee_total.get(s, 0.0) + fee
        cur, b = pos.get(key, 0.0), basis.get(key, 0.0)
        if cur == 0 or (cur > 0) == (q > 0):
            pos[key], basis[key] = cur + q, b + abs(q) * p
            continue
        closing = min(abs(q), abs(cur))
        avg = b / abs(cur)
        sign = 1 if cur > 0 else -1
        realized[s] = realized.get(s, 0.0) + (p - avg) * closing * sign * mult
        cur, b = cur - sign * closing, b - avg * closing
        rest = abs(q) - closing
        if rest > 0:
            cur, b = (rest if q > 0 else -rest), rest * p
        pos[key], basis[key] = cur, b
    return {"pos": pos, "realized": realized, "cash": cash, "fees": fee_total}


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None)
@given(histories())
def test_ledger_matches_oracle(events: list[tuple[str, Version, int]]) -> None:
    ledger = Ledger(client_strategies=CLIENTS, starting_cash=START)
    for kind, v, con_id in events:
        if kind == "x":
            ledger.apply_execution(to_execution(v, con_id))
        else:
            assert v.fee_cents is not None
            ledger.apply_commission(CommissionReport(v.exec_id, v.fee_cents / 100, "USD", None))

    want = oracle(events)
    want_pos: dict[tuple[str, int], float] = want["pos"]  # type: ignore[assignment]
    for (s, con_id), q in want_pos.items():
        assert ledger.position(s, con_id) == pytest.approx(q, abs=1e-9)
    account: dict[int, float] = {}
    for (_, con_id), q in want_pos.items():
        account[con_id] = account.get(con_id, 0.0) + q
    assert ledger.account_positions() == pytest.approx(account, abs=1e-9)
    for s in ledger.strategies():
        assert ledger.realized_pnl(s) == pytest.approx(
            want["realized"].get(s, 0.0), abs=1e-6)  # type: ignore[attr-defined]
        assert ledger.cash(s) == pytest.approx(
            want["cash"].get(s, 0.0), abs=1e-6)  # type: ignore[attr-defined]
        assert ledger.commissions(s) == pytest.approx(
            want["fees"].get(s, 0.0), abs=1e-9)  # type: ignore[attr-defined]
    assert len(ledger.fills_df()) == len({v.trade for k, v, _ in events if k == "x"})
