"""A stepped advance with coarse real-time bars (`bar_seconds`): each bar summarises its span
of the market, goes out once the span is complete, in time order across subscriptions, with the
clock at the bar's end, and nothing is sent twice or left out across advances."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pinned import SESSION

from ats.sim import stepping
from ats.sim.calendar import calendar
from ats.sim.messages import Out
from ats.sim.server import Config, Server
from ats.sim.subscriptions import BarSub
from ats.sim.universe import Universe
from ats.sim.versions import MAX_VERSION

START = dt.datetime.fromisoformat(SESSION)  # five minutes into a regular session
QUARTER = 900


class Client:
    """What the advance sends one session: (req_id, bar start, o, h, l, c, clock at send)."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.bars: dict[int, BarSub] = {}
        self.sent: list[tuple[int, float, float, float, float, float, float]] = []

    def send(self, fields: list[Any]) -> None:
        assert fields[0] == Out.REAL_TIME_BARS
        req_id, t, o, h, lo, c = fields[2:8]
        self.sent.append((req_id, float(t), o, h, lo, c, self.srv.clock.timestamp()))


def stepped_server(*symbols: str) -> tuple[Server, Client]:
    srv = Server(Config(start=START, stepped=True))
    client = Client(srv)
    for req_id, symbol in enumerate(symbols, 1):
        inst = Universe().by_symbol(symbol)
        assert inst is not None
        client.bars[req_id] = BarSub(inst, 5, "TRADES", START.timestamp())
    srv.sessions = {1: SimpleNamespace(bars=client.bars, send=client.send,  # type: ignore
                                       version=MAX_VERSION, transport=None)}
    return srv, client


def advance(srv: Server, hours: float, bar_seconds: int) -> int:
    target = srv.clock.timestamp() + hours * 3600
    return asyncio.run(stepping.advance(srv, target, bar_seconds))


def test_each_coarse_bar_summarises_its_quarter_hour_and_goes_out_when_it_ends() -> None:
    srv, client = stepped_server("SPY")
    sent = advance(srv, 2, QUARTER)
    spy = client.bars[1].inst
    t0, t1 = START.timestamp(), START.timestamp() + 7200
    want = srv.market.intraday_bars(spy, t0, t1, QUARTER, "TRADES", complete_only=True)
    # Spans are aligned to the quarter hour: the one under way at the start is sent whole.
    assert sent == len(client.sent) == len(want) == t1 // QUARTER - t0 // QUARTER
    for (_, t, o, h, lo, c, clock), bar in zip(client.sent, want, strict=True):
        assert (t, o, h, lo, c) == (bar.time, bar.open, bar.high, bar.low, bar.close)
        assert t % QUARTER == 0 and clock == t + QUARTER


def test_coarse_bars_of_several_subscriptions_go_out_in_time_order() -> None:
    srv, client = stepped_server("SPY", "AAPL", "VIX")
    advance(srv, 3, QUARTER)
    times = [t for _, t, *_ in client.sent]
    assert times == sorted(times)
    assert {r for r, *_ in client.sent} == {1, 2, 3}


def test_successive_advances_send_each_bar_once() -> None:
    srv, one_go = stepped_server("SPY")
    advance(srv, 6, QUARTER)
    srv2, in_steps = stepped_server("SPY")
    for hours in (0.2, 1.0, 0.05, 2.5, 2.25):
        advance(srv2, hours, QUARTER)
    assert [s[:6] for s in in_steps.sent] == [s[:6] for s in one_go.sent]


def test_a_night_and_a_weekend_send_no_bar_outside_the_hours() -> None:
    srv, client = stepped_server("SPY")
    advance(srv, 4 * 24, 3600)  # Wednesday to Sunday
    starts = [t for _, t, *_ in client.sent]
    assert all(calendar("XNYS").in_hours(t, rth=False) for t in starts)
    new_york = {dt.datetime.fromtimestamp(t, ZoneInfo("America/New_York")).weekday()
                for t in starts}
    assert new_york == {2, 3, 4}  # Wednesday, Thursday, Friday


@pytest.mark.parametrize("bad", [0, 7, 700, 7200])
def test_a_bar_size_that_does_not_divide_an_hour_is_refused(bad: int) -> None:
    srv, _ = stepped_server("SPY")
    with pytest.raises(ValueError, match="bar_seconds"):
        advance(srv, 1, bad)
