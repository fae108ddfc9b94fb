"""Free disk space as a trading state: REDUCING under the soft floor, HALTED under the hard one,
cleared when space returns."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ats import config
from ats.broker.diskguard import MB, DiskGuard, DiskLevel
from ats.broker.main import Broker
from ats.broker.tradingstate import TradingState


def test_the_fullest_folder_sets_the_level_and_is_named() -> None:
    free = {Path("/journal"): 300 * MB, Path("/arctic"): 80 * MB}
    guard = DiskGuard(list(free), soft_bytes=100 * MB, hard_bytes=20 * MB, free=free.__getitem__)
    level, text = guard.check()
    assert level is DiskLevel.LOW and text == "80 MB free under /arctic (soft floor 100 MB)"
    free[Path("/arctic")] = 10 * MB
    assert guard.check() == (DiskLevel.CRITICAL, "10 MB free under /arctic (hard floor 20 MB)")
    free[Path("/arctic")] = 500 * MB
    assert guard.check()[0] is DiskLevel.OK


@pytest.fixture
def broker() -> Iterator[Broker]:
    home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))  # ipc paths stay short
    b = Broker(config.init_home(home, {"broker": {"disk_soft_mb": 100, "disk_hard_mb": 20}}))
    try:
        yield b
    finally:
        b.syncer.close()
        b.store.close(flush=False)
        b.intents.close()
        b.publisher.close()
        b.zctx.destroy(linger=0)
        b.sync_zctx.destroy(linger=0)
        shutil.rmtree(home, ignore_errors=True)


def test_the_broker_reduces_then_halts_the_account_and_clears_as_space_returns(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    alerts: list[dict[str, Any]] = []
    monkeypatch.setattr(broker.publisher, "publish",
                        lambda topic, type_, body: alerts.append(body) or 0)
    free = {"bytes": 50 * MB}
    broker.disk.free = lambda path: free["bytes"]
    broker.check_disk()
    state, whose = broker.states.binding("s1")
    assert state is TradingState.REDUCING and whose.startswith("the account: disk LOW: 50 MB")
    assert broker.arctic_writable()
    free["bytes"] = 5 * MB
    broker.storage_error = "ledger journal: disk full"
    broker.check_disk()
    assert broker.states.binding("s1")[0] is TradingState.HALTED
    assert not broker.arctic_writable()  # LMDB must not be asked to grow now
    free["bytes"] = 900 * MB
    broker.check_disk()
    assert broker.states.binding("s1") == (TradingState.ACTIVE, "the account")
    assert broker.storage_error is None and broker.arctic_writable()
    assert [a["level"] for a in alerts] == ["CRITICAL", "CRITICAL", "INFO"]
    assert "disk OK -> LOW" in alerts[0]["message"] and "REDUCING" in alerts[0]["message"]
