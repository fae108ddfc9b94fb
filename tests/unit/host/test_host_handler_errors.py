"""What the strategy host does when the strategy's handlers raise: count, log the exception's
text, report it in the heartbeat, and halt its own trading at [host] halt_after_errors.

A real Host on a temporary ATS_HOME; its broker requester and its bus publisher are replaced
by recorders, and its error clock by a fixed time."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hostkit
import pandas as pd
import pytest

from ats import config
from ats.host.main import Host
from ats.sdk import Bar, Params, Strategy
from bus import topics
from bus.errors import Code, RequestError

T0 = 1_800_000_000.0
NAME = "raiser"
HALT_AFTER = 3


class Raiser(Strategy[Params]):
    params_type = Params

    def on_start(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        raise ValueError(f"cannot trade {bar.instrument}")


class Broker:
    """Records requests; answers like the broker's halt, or not at all when `down`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    async def request(self, method: str, params: dict[str, Any],
                      timeout: float | None = None) -> dict[str, Any]:
        self.calls.append((method, params))
        if self.down:
            raise RequestError(Code.TIMEOUT, "no reply within 3s")
        return {"trading_state": {}, "flatten_orders": []}


class Bus(hostkit.Bus):
    def alerts(self) -> list[dict[str, Any]]:
        return [body for topic, _, body in self.sent if topic == topics.alert(NAME)]


@pytest.fixture
def host() -> Iterator[Host]:
    home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))
    h = Host(config.init_home(home, {"host": {"halt_after_errors": HALT_AFTER}}), NAME)
    h.publisher.close()
    h.publisher = Bus()  # type: ignore[assignment]
    h.broker = Broker()  # type: ignore[assignment]
    h.wall = lambda: T0
    h.strategy = Raiser(NAME, Params(), h.ctx)
    h.strategy.start()
    try:
        yield h
    finally:
        h.zctx.destroy(linger=0)
        h.sync_zctx.destroy(linger=0)
        shutil.rmtree(home, ignore_errors=True)


def bar(i: int = 0) -> Bar:
    return Bar("SPY", pd.Timestamp(T0 + 5 * i, unit="s", tz="UTC"), 1.0, 1.0, 1.0, 1.0, 100.0)


async def raise_on_bars(host: Host, n: int) -> None:
    """n bars, each of which makes on_bar raise; then let the host's own tasks finish."""
    assert host.strategy is not None
    for i in range(n):
        host.guard(host.strategy.handle_bar, bar(i))
    while host.tasks:
        await asyncio.gather(*list(host.tasks), return_exceptions=True)


def test_a_raising_handler_is_logged_with_the_exception_text(
        host: Host, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="ats.host"):
        asyncio.run(raise_on_bars(host, 2))
    lines = [r for r in caplog.records if "raised in handle_bar" in r.getMessage()]
    assert [r.getMessage() for r in lines] == [
        f"strategy {NAME} raised in handle_bar: ValueError: cannot trade SPY"] * 2
    assert lines[0].exc_info is not None and lines[1].exc_info is None  # one traceback


def test_the_heartbeat_carries_the_error_count_and_the_last_error(host: Host) -> None:
    asyncio.run(raise_on_bars(host, 2))
    info = host.hb_info()
    assert info["errors_5m"] == 2 and info["errors_total"] == 2
    assert info["last_error"] == {"where": "handle_bar", "type": "ValueError",
                                  "message": "cannot trade SPY", "time": T0}
    assert info["trading_state"] == "ACTIVE"


def test_halt_after_errors_halts_the_strategy_at_the_broker_and_alerts_once(host: Host) -> None:
    asyncio.run(raise_on_bars(host, HALT_AFTER - 1))
    assert host.broker.calls == []  # type: ignore[attr-defined]
    asyncio.run(raise_on_bars(host, 2))  # the third halts; the fourth is counted after it
    [(method, params)] = host.broker.calls  # type: ignore[attr-defined]
    assert method == "halt" and params["strategy"] == NAME
    assert "ValueError: cannot trade SPY" in params["reason"]
    [alert] = host.publisher.alerts()  # type: ignore[attr-defined]
    assert alert["error"] == "ValueError: cannot trade SPY" and alert["halted"] is True
    assert alert["errors_5m"] == HALT_AFTER and alert["strategy"] == NAME
    assert host.gate.trading_state == "HALTED"
    assert host.hb_info()["trading_state"] == "HALTED"


def test_a_halted_strategy_that_still_raises_is_not_halted_again(host: Host) -> None:
    asyncio.run(raise_on_bars(host, HALT_AFTER))
    asyncio.run(raise_on_bars(host, 4 * HALT_AFTER))
    assert len(host.broker.calls) == 1  # type: ignore[attr-defined]
    assert len(host.publisher.alerts()) == 1  # type: ignore[attr-defined]
    assert host.hb_info()["errors_5m"] == 5 * HALT_AFTER


def test_after_a_resume_it_takes_halt_after_new_errors_to_halt_again(host: Host) -> None:
    asyncio.run(raise_on_bars(host, 2 * HALT_AFTER))
    host.apply_trading_state({"state": "ACTIVE", "cancel": False, "reason": "operator resume"})
    asyncio.run(raise_on_bars(host, HALT_AFTER - 1))
    assert len(host.broker.calls) == 1  # type: ignore[attr-defined]
    asyncio.run(raise_on_bars(host, 1))
    assert len(host.broker.calls) == 2  # type: ignore[attr-defined]
    assert host.gate.trading_state == "HALTED"


def test_an_unanswered_halt_alerts_and_is_asked_again_at_the_next_error(host: Host) -> None:
    host.broker.down = True  # type: ignore[attr-defined]
    asyncio.run(raise_on_bars(host, HALT_AFTER))
    [alert] = host.publisher.alerts()  # type: ignore[attr-defined]
    assert alert["halted"] is False and "no reply within 3s" in alert["message"]
    assert alert["error"] == "ValueError: cannot trade SPY"
    assert host.gate.trading_state == "ACTIVE"
    host.broker.down = False  # type: ignore[attr-defined]
    asyncio.run(raise_on_bars(host, 1))
    assert [m for m, _ in host.broker.calls] == ["halt", "halt"]  # type: ignore[attr-defined]
    assert host.publisher.alerts()[-1]["halted"] is True  # type: ignore[attr-defined]
    assert host.gate.trading_state == "HALTED"


def test_a_bug_in_on_params_changed_is_counted_and_refused(host: Host) -> None:
    assert host.strategy is not None

    def broken(old: Params, new: Params) -> None:
        raise RuntimeError("no such indicator")

    host.strategy.on_params_changed = broken  # type: ignore[method-assign]
    asyncio.run(_apply_params(host))
    [ack] = [body for topic, _, body in host.publisher.sent  # type: ignore[attr-defined]
             if topic == topics.params(NAME)]
    assert ack["ok"] is False and ack["error"] == "RuntimeError: no such indicator"
    assert host.hb_info()["last_error"]["where"] == "update_params"


async def _apply_params(host: Host) -> None:
    host.apply_params({"req": "r1", "params": {}, "target_weight": 0.0, "min_weight": 0.0,
                       "max_weight": 1.0})
