"""Risk limits changed at runtime survive a restart of the broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.broker import limits_store
from ats.broker.risk import Limits


def test_changed_limits_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "state" / "risk-limits.json"
    assert limits_store.load(path) == {}
    changed = {None: Limits(max_order_qty=500.0), "s2": Limits(max_position=10.0,
                                                                 max_orders_per_minute=None)}
    limits_store.save(path, changed)
    assert limits_store.load(path) == changed
    limits_store.save(path, {"s2": Limits(max_position=20.0)})
    assert limits_store.load(path) == {"s2": Limits(max_position=20.0)}
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("text", ["{not json", '{"strategies": {"s2": {"max_qty": 1}}}',
                                  '{"account": {"max_order_qty": -5}}', "[1, 2]"])
def test_an_unreadable_file_is_refused_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "risk-limits.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"risk-limits\.json: cannot read the risk limits"):
        limits_store.load(path)
