import textwrap

import pytest

from ats.sdk import ParamError, Strategy
from ats.sdk.loader import BUILTIN, StrategyLoadError, load_strategy, validate


def write(tmp_path, body: str, name: str = "mine.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


GOOD = """
    from dataclasses import dataclass
    from ats.sdk import Params, Strategy, param

    @dataclass(frozen=True)
    class MyParams(Params):
        n: int = param(3, "n", min=1)

    class Mine(Strategy[MyParams]):
        params_type = MyParams
"""


def test_every_builtin_loads_by_short_name_and_module_path():
    for short, module in BUILTIN.items():
        cls = load_strategy(short)
        assert issubclass(cls, Strategy)
        assert load_strategy(module) is cls
        assert cls.description, short


def test_loads_a_strategy_from_a_py_file(tmp_path):
    cls = load_strategy(write(tmp_path, GOOD))
    assert cls.__name__ == "Mine"


def test_validate_returns_class_and_coerced_params(tmp_path):
    cls, params = validate(write(tmp_path, GOOD), {"n": "7"})
    assert cls.__name__ == "Mine" and params.n == 7  # type: ignore[attr-defined]
    with pytest.raises(ParamError):
        validate(write(tmp_path, GOOD), {"n": "0"})


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "x = (\n")
    with pytest.raises(StrategyLoadError, match=r"syntax error at .*mine.py:1"):
        load_strategy(path)


def test_import_error_includes_the_exception_line(tmp_path):
    path = write(tmp_path, "import no_such_module_xyz\n")
    with pytest.raises(StrategyLoadError, match="No module named 'no_such_module_xyz'"):
        load_strategy(path)


def test_module_without_strategy_is_refused(tmp_path):
    with pytest.raises(StrategyLoadError, match="no Strategy subclass"):
        load_strategy(write(tmp_path, "x = 1\n"))


def test_two_strategies_need_an_explicit_choice(tmp_path):
    body = GOOD + "\n    class Other(Mine):\n        pass\n"
    with pytest.raises(StrategyLoadError, match="several"):
        load_strategy(write(tmp_path, body))
    chosen = body + "\n    STRATEGY = Other\n"
    assert load_strategy(write(tmp_path, chosen, "chosen.py")).__name__ == "Other"


def test_params_type_must_be_a_frozen_params_dataclass(tmp_path):
    body = """
        from ats.sdk import Strategy
        class Mine(Strategy):
            params_type = dict
    """
    with pytest.raises(StrategyLoadError, match="params_type"):
        load_strategy(write(tmp_path, body))


def test_missing_module_and_file(tmp_path):
    with pytest.raises(StrategyLoadError, match="import failed"):
        load_strategy("strategies.nope_not_here")
    with pytest.raises(StrategyLoadError, match="no such file"):
        load_strategy(str(tmp_path / "absent.py"))
