"""Free disk space as a trading state: REDUCING under the soft floor, HALTED under the hard one,
cleared when space returns."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from broker_testkit import broker_in

from ats.broker.diskguard import MB, DiskGuard, DiskLevel
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


def test_the_broker_reduces_then_halts_the_account_and_clears_as_space_returns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory(prefix="ats-", dir="/tmp") as tmp, \
            broker_in(Path(tmp), monkeypatch) as broker:
        free = {"bytes": 50 * MB}
        broker.disk = DiskGuard(broker.disk.paths, 100 * MB, 20 * MB,
                                free=lambda path: free["bytes"])
        broker.check_disk()
        state, whose = broker.states.binding("s1")
        assert state is TradingState.REDUCING and whose.startswith("the account: disk LOW: 50")
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
        alerts = broker.publisher.bodies("alert")
        assert [a["level"] for a in alerts] == ["CRITICAL", "CRITICAL", "INFO"]
        assert "disk OK -> LOW" in alerts[0]["message"] and "REDUCING" in alerts[0]["message"]
