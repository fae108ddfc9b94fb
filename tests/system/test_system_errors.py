"""A strategy whose on_bar raises on every bar, over the real processes: the manager reports it
ERRORING with the exception's text, its host halts its trading at the broker after
[host] halt_after_errors errors and alerts on the bus, and `ats-ctl show` and `ats-ctl logs`
tell the operator about it.

One system with no seeded strategy; `raiser` is written to a temporary file, then added and
started with ats-ctl, as an operator would.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from systemkit import System, broker, wait_for

from bus import topics
from bus.subscriber import SyncSubscriber

pytestmark = [pytest.mark.system, pytest.mark.timeout(300)]

NAME = "raiser"
MESSAGE = "raiser cannot handle this bar"
HALT_AFTER = 5

RAISER = f'''
"""Raises in on_bar, on every 5-second bar."""

from dataclasses import dataclass

from ats.sdk import Bar, BarSpec, Params, Stock, Strategy, param


@dataclass(frozen=True)
class RaiserParams(Params):
    symbol: str = param("SPY", "stock whose bars it cannot handle")
    patience: int = param(0, "bars it lets pass (never used)", min=0)


class Raiser(Strategy[RaiserParams]):
    params_type = RaiserParams
    description = "raises on every bar (system test)"

    def subscriptions(self) -> list[BarSpec]:
        return [BarSpec(Stock(self.params.symbol), "5s", lookback=2)]

    def on_start(self) -> None:
        self.log.info("raiser started")

    def on_bar(self, bar: Bar) -> None:
        raise ValueError("{MESSAGE}")

    def on_stop(self) -> None:
        pass
'''


@pytest.fixture(scope="module")
def system(system_factory: Any) -> System:
    s: System = system_factory([], {"host": {"halt_after_errors": HALT_AFTER}})
    wait_for(lambda: s.ctl("status", check=False).returncode == 0, 60, "the manager up")
    return s


class BusWatch:
    """Keeps the bodies of raiser's alerts and log messages, from a real subscriber."""

    def __init__(self, system: System) -> None:
        self.bodies: dict[str, list[dict[str, Any]]] = defaultdict(list)  #: family -> bodies
        self._stop = threading.Event()
        self._sub = SyncSubscriber(zmq.Context.instance(), system.cfg().endpoints.subscribe,
                                   [topics.alert(NAME), topics.log(NAME)])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._sub.recv(timeout=0.2)
            if msg is not None:
                self.bodies[topics.parse(msg[0])[0]].append(msg[1].body)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sub.close()


@pytest.fixture(scope="module")
def bus(system: System) -> Iterator[BusWatch]:
    """Subscribed before raiser starts, and so before its first error."""
    watch = BusWatch(system)
    try:
        yield watch
    finally:
        watch.close()


@pytest.fixture(scope="module")
def raiser(system: System, bus: BusWatch, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("strategies") / f"{NAME}.py"
    path.write_text(RAISER)
    system.ctl("add", str(path))
    system.ctl("start", NAME)
    return NAME


def test_a_strategy_raising_on_every_bar_is_reported_erroring_with_the_exception(
        system: System, raiser: str) -> None:
    # Its host's start (imports, venue, history) is not what is measured: then within 30 s.
    wait_for(lambda: "raiser started" in system.log(f"strategy-{raiser}"), 90, "raiser running")
    status = wait_for(lambda: (s := system.status()[raiser])["state"] == "ERRORING" and s,
                      30, f"{raiser} ERRORING")
    assert status["last_error"] == f"ValueError: {MESSAGE}"
    assert status["errors_5m"] >= 1 and status["last_error_time"] is not None
    table = system.ctl("status").stdout
    [row] = [line for line in table.splitlines() if line.startswith(raiser)]
    assert "ERRORING" in row and f"ValueError: {MESSAGE}" in row


def test_the_error_on_the_bus_and_in_the_log_carries_the_exception_text(
        system: System, raiser: str, bus: BusWatch) -> None:
    text = f"strategy {raiser} raised in handle_bar: ValueError: {MESSAGE}"
    wait_for(lambda: any(b["msg"] == text for b in bus.bodies["log"]), 30,
             "the error on log.raiser.")
    wait_for(lambda: text in system.log(f"strategy-{raiser}"), 30, "the error in raiser's log")


def test_halt_after_errors_halts_it_at_the_broker_and_alerts_with_the_exception(
        system: System, raiser: str, bus: BusWatch) -> None:
    # One alert that it is halted, though it goes on raising (one with halted false would
    # come first if the broker had not answered the first request).
    [body] = wait_for(lambda: [b for b in bus.bodies["alert"] if b["halted"]], 60,
                      f"an alert from {raiser} that it is halted")
    assert body["halted"] is True and body["strategy"] == raiser
    assert body["error"] == f"ValueError: {MESSAGE}" and MESSAGE in body["message"]
    assert body["errors_5m"] >= HALT_AFTER
    states = broker(system, "trading_state")
    assert states["strategies"][raiser] == "HALTED"
    wait_for(lambda: system.status()[raiser]["trading_state"] == "HALTED", 30,
             f"{raiser}'s host reports HALTED")


def test_show_gives_parameters_trading_state_and_last_error(system: System,
                                                            raiser: str) -> None:
    wait_for(lambda: system.status()[raiser]["trading_state"] == "HALTED", 60,
             f"{raiser} HALTED")
    out = system.ctl("show", raiser).stdout
    assert "raises on every bar (system test)" in out
    assert "trading state:  HALTED" in out
    assert f"last error:     ValueError: {MESSAGE} in handle_bar" in out
    params = out.split("parameters:")[1]
    assert "patience" in params and "int" in params and "SPY" in params


def test_logs_n_prints_the_last_lines_of_its_log(system: System, raiser: str) -> None:
    wait_for(lambda: MESSAGE in system.log(f"strategy-{raiser}"), 30, "raiser's log")
    lines = system.ctl("logs", raiser, "-n", "5").stdout.splitlines()
    assert len(lines) == 5
    log = system.log(f"strategy-{raiser}").splitlines()  # it only grows meanwhile
    assert any(log[i:i + 5] == lines for i in range(len(log) - 4)), lines


def test_list_shows_the_strategy_class_description(system: System, raiser: str) -> None:
    [entry] = [e for e in system.json("list") if e["name"] == raiser]
    assert entry["description"] == "raises on every bar (system test)"
