"""A strategy is built in a throwaway process before it is registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.sdk.buildcheck import BuildError, check

GOOD = '''
from dataclasses import dataclass
from ats.sdk import BarSpec, Params, Stock, Strategy, param

@dataclass(frozen=True)
class P(Params):
    symbol: str = param("SPY", "what to trade")

class Good(Strategy[P]):
    params_type = P
    def subscriptions(self):
        print("noise on stdout")  # must not spoil the result
        return [BarSpec(Stock(self.params.symbol), "1d", lookback=5)]
'''


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text(body)
    return str(path)


def test_a_strategy_that_builds_gives_its_validated_params(tmp_path: Path) -> None:
    assert check(write(tmp_path, GOOD), {"symbol": "QQQ"}) == {"symbol": "QQQ"}


@pytest.mark.parametrize("where", [
    "def on_init(self):\n        raise RuntimeError('no state for you')",
    "def subscriptions(self):\n        raise RuntimeError('no state for you')",
], ids=["on_init", "subscriptions"])
def test_a_strategy_that_raises_while_built_is_refused_with_the_exception(
        tmp_path: Path, where: str) -> None:
    body = GOOD.replace("    def subscriptions(self):", f"    {where}\n    def _x(self):")
    with pytest.raises(BuildError) as caught:
        check(write(tmp_path, body), {})
    assert caught.value.code == "INVALID_STRATEGY"
    assert "Good cannot be built: RuntimeError: no state for you" in caught.value.message


def test_a_file_that_hangs_at_import_is_refused_after_the_timeout(tmp_path: Path) -> None:
    # Killed at the timeout whether still starting or already asleep: the same refusal.
    with pytest.raises(BuildError, match="not built within 1s"):
        check(write(tmp_path, "import time\ntime.sleep(60)\n" + GOOD), {}, timeout=1)


def test_bad_params_and_a_file_that_exits_are_refused_with_their_reason(
        tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        check(write(tmp_path, GOOD), {"nope": 1})
    assert caught.value.code == "BAD_PARAMS"
    with pytest.raises(BuildError) as caught:
        check(write(tmp_path, "import os\nos._exit(3)\n"), {})
    assert caught.value.code == "INVALID_STRATEGY" and "died" in caught.value.message
