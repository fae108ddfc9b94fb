"""The manager routes a strategy placed on a joined host to that host's agent, shows its host
and its state from the agent, and shows it LOST (with one alert) when the agent falls silent.

Real parts: the manager's switchboard (ROUTER) and the real ats-agent's dialing service
(DEALER) over loopback TCP, the agent's Programs writing real sections in the joined home.
Fakes: both supervisords (the agent's loads what the agent writes), the agent's heartbeats
(given to the manager as its bus subscriber would), the alert publisher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from agentkit import PROBE, FakeSupervisord, two_homes
from managerkit import StubSupervisor

from ats import config
from ats.agent.main import Agent
from ats.agent.programs import Programs
from ats.errors import Code
from ats.manager.main import Manager
from bus.errors import RequestError

LOST_AFTER = 10.0


class Alerts:
    """The manager's alert publisher: what it published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, type_: str, body: dict[str, Any]) -> int:
        self.sent.append((topic, body))
        return len(self.sent)


class Pair:
    def __init__(self, main: config.Config, joined: config.Config) -> None:
        self.stub = StubSupervisor()
        self.manager = Manager(main)
        self.manager.supervisor = self.stub  # type: ignore[assignment]
        self.alerts = Alerts()
        self.manager.remote.publisher = self.alerts  # type: ignore[assignment]
        self.fake = FakeSupervisord(joined.programs_dir)
        self.agent = Agent(joined, Programs(joined, self.fake))  # type: ignore[arg-type]
        self.joined = joined

    def beat(self, at: float | None = None) -> None:
        """One heartbeat of b's agent, as the manager's bus subscriber hands it over."""
        self.manager.agent_beat("b", self.agent.beat_info(), time.time() if at is None else at)

    def close(self) -> None:
        m = self.manager
        m.subscriber.close()
        m.publisher.close()
        m._sv_pool.shutdown(wait=False)
        m.ctx.destroy(linger=0)
        m.sync_ctx.destroy(linger=0)
        self.agent.publisher.close()
        self.agent.ctx.destroy(linger=0)
        self.agent.sync_ctx.destroy(linger=0)


@pytest.fixture
def pair() -> Iterator[Pair]:
    with two_homes(LOST_AFTER) as (main, joined):
        p = Pair(main, joined)
        try:
            yield p
        finally:
            p.close()


def running(pair: Pair, scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        tasks = [asyncio.create_task(pair.manager.remote.run()),
                 asyncio.create_task(pair.agent.service.run())]
        try:
            await asyncio.wait_for(scenario(), 60)
        finally:
            pair.manager.remote.stop()
            pair.agent.service.stop()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


async def connected(pair: Pair) -> None:
    """Until the agent's dialer is through to the switchboard (an info request answers)."""
    for _ in range(100):
        try:
            await pair.manager.remote.call("b", "info", {}, time.time())
            return
        except RequestError:
            await asyncio.sleep(0.05)
    raise AssertionError("the agent never reached the manager's switchboard")


def test_start_and_stop_of_a_strategy_on_a_joined_host_go_to_its_agent(pair: Pair) -> None:
    m = pair.manager
    m.registry.add("near", PROBE)
    m.registry.add("far", PROBE, host="b")

    async def scenario() -> None:
        pair.beat()
        await connected(pair)
        status = await m.m_start({"name": "far"})
        assert (status["host"], status["state"]) == ("b", "RUNNING")
        assert pair.fake.states == {"strategy-far": "RUNNING"}
        assert status["pid"] == pair.fake.pid["strategy-far"]
        assert "autostart=true" in (pair.joined.programs_dir / "strategy-far.conf").read_text()
        assert pair.stub.calls == []  # the main host's supervisord was not asked anything
        assert m.registry.get("far").desired == "running"
        stopped = await m.m_stop({"name": "far"})
        assert stopped["state"] == "STOPPED" and pair.fake.states["strategy-far"] == "STOPPED"
        near = await m.m_start({"name": "near"})  # a local one still goes to the local one
        assert near["host"] == "local" and ("start", "strategy-near") in pair.stub.calls
        assert "strategy-near" not in pair.fake.states

    running(pair, scenario)


def test_add_places_a_strategy_on_a_host_whose_agent_is_heard_and_remove_drops_it(
        pair: Pair) -> None:
    m = pair.manager

    async def scenario() -> None:
        with pytest.raises(RequestError) as unknown:
            await m.m_add({"name": "far", "spec": PROBE, "host": "c"})
        assert unknown.value.code == Code.HOST_LOST and "host 'c'" in unknown.value.message
        pair.beat()
        await connected(pair)
        entry = await m.m_add({"name": "far", "spec": PROBE, "host": "b"})
        assert entry["host"] == "b"
        assert pair.fake.states == {"strategy-far": "STOPPED"}  # registered, not started
        assert (await m.m_status({}))[0]["host"] == "b"
        await m.m_remove({"name": "far"})
        assert pair.fake.states == {}
        assert not (pair.joined.programs_dir / "strategy-far.conf").exists()

    running(pair, scenario)


def test_a_silent_host_shows_its_strategies_lost_with_one_alert_and_they_return(
        pair: Pair) -> None:
    m = pair.manager
    m.registry.add("near", PROBE)
    m.registry.add("far", PROBE, host="b")
    m.registry.add("wide", PROBE, host="b")
    pair.stub.names.append("near")

    async def scenario() -> None:
        pair.beat()
        await connected(pair)
        await m.m_start({"name": "far"})
        await m.m_start({"name": "wide"})
        pair.beat(time.time() - LOST_AFTER - 1)  # its agent's last beat, long ago
        statuses = await m.refresh()
        assert {n: s["state"] for n, s in statuses.items()} == \
            {"near": "STOPPED", "far": "LOST", "wide": "LOST"}
        await m.refresh()
        assert len(pair.alerts.sent) == 1  # one alert for the host, none per strategy
        topic, body = pair.alerts.sent[0]
        assert topic == "alert.agent-b." and body["level"] == "CRITICAL"
        assert "far, wide" in body["message"]
        with pytest.raises(RequestError) as lost:
            await m.m_start({"name": "far"})
        assert lost.value.code == Code.HOST_LOST and "LOST" in lost.value.message
        with pytest.raises(RequestError) as stop:
            await m.m_stop({"name": "wide"})
        assert stop.value.code == Code.HOST_LOST
        assert m.registry.get("wide").desired == "stopped"  # the wish is kept for its return

        pair.fake.restart()  # b's supervisord comes back and autostarts both
        pair.beat()  # back: the manager makes b's sections the registry's again
        for _ in range(100):
            if pair.fake.states.get("strategy-wide") == "STOPPED":
                break
            await asyncio.sleep(0.05)
        pair.beat()
        statuses = await m.refresh()
        assert (statuses["far"]["state"], statuses["wide"]["state"]) == ("RUNNING", "STOPPED")
        assert [b["level"] for _, b in pair.alerts.sent] == ["CRITICAL", "INFO"]

    running(pair, scenario)


def test_a_strategy_on_a_dying_host_is_not_called_unresponsive_before_its_host_is_lost(
        pair: Pair) -> None:
    m = pair.manager
    entry = m.registry.add("far", PROBE, host="b")
    now = time.time()
    pair.fake.load_programs()
    pair.fake.states["strategy-far"] = "RUNNING"
    pair.agent.rows = pair.agent.programs.rows()
    hosts = m.remote.hosts
    hosts.beat("b", pair.agent.beat_info(), now - 5.0)  # the host went quiet 5 s ago
    m.liveness.beat("far", now - 5.5)  # and its strategy half a second before
    info = hosts.info("b", "strategy-far")
    assert m._status_of(entry, info, now, vouched=hosts.last_beat("b"))["state"] == "RUNNING"
    # the agent beats on, the strategy does not: that one is unresponsive
    assert m._status_of(entry, info, now, vouched=now)["state"] == "UNRESPONSIVE"


def test_an_agents_beat_names_its_programs_only_once_it_has_looked(pair: Pair) -> None:
    assert "programs" not in pair.agent.beat_info()  # not "none runs here"
    pair.fake.load_programs()

    async def scenario() -> None:
        pair.beat()
        await connected(pair)  # an info request: the agent looks at its supervisord
        assert pair.agent.beat_info()["programs"] == []
        assert pair.agent.beat_info()["supervisor_up"] is True

    running(pair, scenario)
