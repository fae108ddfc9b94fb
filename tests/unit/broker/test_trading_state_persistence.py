import json
from pathlib import Path

from ats.broker.tradingstate import TradingState, TradingStates


def test_halt_survives_reload(tmp_path: Path) -> None:
    path = tmp_path / "state" / "trading.json"
    states = TradingStates.load(path)
    states.set_strategy("alpha", TradingState.HALTED)
    states.set_instrument_reducing(265598, "break: ledger 10 != account 0")
    again = TradingStates.load(path)
    assert again.effective("alpha") is TradingState.HALTED
    assert again.effective("beta", 265598) is TradingState.REDUCING
    assert again.effective("beta", 1) is TradingState.ACTIVE
    assert not list(path.parent.glob("*.tmp"))


def test_effective_state_is_the_most_restrictive() -> None:
    states = TradingStates()
    states.set_global(TradingState.REDUCING)
    assert states.effective("alpha") is TradingState.REDUCING
    states.set_strategy("alpha", TradingState.HALTED)
    assert states.effective("alpha") is TradingState.HALTED
    states.set_strategy("alpha", TradingState.ACTIVE)
    states.set_global(TradingState.ACTIVE)
    assert states.effective("alpha", 5) is TradingState.ACTIVE


def test_dict_round_trip_is_json_safe(tmp_path: Path) -> None:
    states = TradingStates()
    states.set_global(TradingState.HALTED)
    states.set_instrument_reducing(3, "x")
    d = json.loads(json.dumps(states.to_dict()))
    assert TradingStates.from_dict(d).to_dict() == states.to_dict()


def test_missing_file_starts_active(tmp_path: Path) -> None:
    assert TradingStates.load(tmp_path / "none.json").effective("a") is TradingState.ACTIVE
