"""A session's bytes through the handshake, framing and the dispatch table: each request is
answered by its handler, and a bad request gets an error while the connection stays up.
Also the weekly and monthly bars that reqHistoricalData gathers from daily ones."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import pandas as pd
import pytest
from pinned import SESSION
from simkit import FakeTransport

from ats.sim.handlers import HANDLERS
from ats.sim.history import aggregate
from ats.sim.market import Bar
from ats.sim.messages import Out
from ats.sim.protocol import FrameReader, frame, frame_raw, split_fields
from ats.sim.server import Config, Server
from ats.sim.session import Session
from ats.sim.unsupported import IGNORED, REFUSED
from ats.sim.versions import MAX_VERSION

START = pd.Timestamp(SESSION).to_pydatetime()


class Client:
    """One session of a real server, driven by the bytes a client would send."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport = FakeTransport()
        self.session = Session(server)
        self.session.transport = self.transport  # type: ignore[assignment]
        self._reader = FrameReader()

    def connect(self, client_id: int) -> None:
        self.session.data_received(b"API\0" + frame_raw(f"v100..{MAX_VERSION}".encode()))
        self.session.data_received(frame(["71", "2", client_id, ""]))

    async def ask(self, *fields: object) -> list[list[str]]:
        """Send one request; every message written back on the next turn of the loop."""
        self.session.data_received(frame(fields))
        await asyncio.sleep(0)
        return self.received()

    def received(self) -> list[list[str]]:
        out = [split_fields(p) for p in self._reader.feed(bytes(self.transport.data))]
        self.transport.data.clear()
        return out


def errors(msgs: list[list[str]]) -> list[tuple[int, int]]:
    """(request id, code) of each error message."""
    return [(int(m[2]), int(m[3])) for m in msgs if m[0] == str(Out.ERR_MSG)]


def run(scenario: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        client = Client(Server(Config(start=START)))
        client.connect(7)
        await asyncio.sleep(0)
        client.received()  # the handshake answer, nextValidId, managedAccounts, farms
        await scenario(client)

    asyncio.run(main())


def test_a_ready_session_gets_each_request_answered_by_its_handler() -> None:
    async def scenario(client: Client) -> None:
        assert client.session.stage == "ready" and client.server.sessions[7] is client.session
        [msg] = await client.ask(49, 1)  # reqCurrentTime
        assert msg[0] == str(Out.CURRENT_TIME)
        assert int(msg[2]) == int(client.server.clock.timestamp())
        [msg] = await client.ask(8, 1, 1)  # reqIds
        assert msg[0] == str(Out.NEXT_VALID_ID)
        assert int(msg[2]) == client.server.venue.next_order_id

    run(scenario)


@pytest.mark.parametrize("msg_id", ["999", "0", "abc"])
def test_an_unknown_message_id_gets_321_and_the_connection_stays_up(msg_id: str) -> None:
    async def scenario(client: Client) -> None:
        assert errors(await client.ask(msg_id, 1)) == [(-1, 321)]
        assert [m[0] for m in await client.ask(49, 1)] == [str(Out.CURRENT_TIME)]
        assert not client.transport.closed

    run(scenario)


def test_a_refused_request_gets_its_own_code_with_its_own_request_id() -> None:
    fundamentals = 52
    assert fundamentals not in HANDLERS

    async def scenario(client: Client) -> None:
        answer = await client.ask(fundamentals, 2, 41, 756733)
        assert errors(answer) == [(41, REFUSED[fundamentals].code)]

    run(scenario)


def test_an_ignored_request_gets_no_answer() -> None:
    news_bulletins = 12
    assert news_bulletins in IGNORED and news_bulletins not in HANDLERS

    async def scenario(client: Client) -> None:
        assert await client.ask(news_bulletins, 1, 1) == []

    run(scenario)


def test_a_field_of_the_wrong_type_gets_321_with_the_requests_id() -> None:
    async def scenario(client: Client) -> None:
        contract_details = [9, 8, 17, "not-a-con-id", "SPY", "STK", "", "", "", "", "SMART",
                            "", "USD", "", ""]
        assert errors(await client.ask(*contract_details)) == [(17, 321)]
        assert [m[0] for m in await client.ask(49, 1)] == [str(Out.CURRENT_TIME)]

    run(scenario)


def daily(first: dt.date, days: int) -> list[Bar]:
    """Weekday bars whose prices follow their index, so each span's figures are known."""
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        if day.weekday() < 5:
            t = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
            out.append(Bar(t, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0, 100.0 + i, 2))
    return out


def test_weekly_bars_gather_each_iso_week_of_daily_bars() -> None:
    bars = daily(dt.date(2026, 11, 2), 21)  # Monday: three whole weeks
    weeks = aggregate(bars, 7 * 86400)
    by_week: dict[int, list[Bar]] = {}
    for b in bars:
        by_week.setdefault(dt.datetime.fromtimestamp(b.time, dt.UTC).isocalendar()[1],
                           []).append(b)
    assert len(weeks) == len(by_week) == 3
    for week, group in zip(weeks, by_week.values(), strict=True):
        assert (week.time, week.open, week.close) == (group[0].time, group[0].open,
                                                      group[-1].close)
        assert week.high == max(b.high for b in group)
        assert week.low == min(b.low for b in group)
        assert week.volume == sum(b.volume for b in group)
        assert week.count == sum(b.count for b in group)


def test_monthly_bars_split_at_the_calendar_month() -> None:
    bars = daily(dt.date(2026, 10, 20), 20)
    months = aggregate(bars, 30 * 86400)
    in_october = [b for b in bars if dt.datetime.fromtimestamp(b.time, dt.UTC).month == 10]
    assert [m.time for m in months] == [bars[0].time, bars[len(in_october)].time]
    assert months[0].close == in_october[-1].close and months[1].close == bars[-1].close


def test_daily_or_finer_bars_are_not_gathered() -> None:
    bars = daily(dt.date(2026, 11, 2), 10)
    assert aggregate(bars, 86400) == bars
