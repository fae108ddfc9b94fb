from dataclasses import dataclass

import pytest

from ats.sdk import ParamError, Params, param


@dataclass(frozen=True)
class P(Params):
    months: int = param(10, "average length", min=2, max=60)
    ratio: float = param(0.5, "a ratio", min=0.0, max=1.0)
    on: bool = param(True, "switch")
    name: str = param("ACWI", "symbol")
    names: tuple[str, ...] = param(("A", "B"), "universe")
    windows: tuple[int, ...] = param((63, 126), "windows")
    mode: str = param("x", "mode", choices=("x", "y"))
    maybe: float | None = param(None, "optional")

    def validate(self) -> None:
        if self.name == "BAD":
            raise ParamError("name", "BAD is not allowed")


def test_from_mapping_coerces_cli_strings_to_field_types():
    p = P.from_mapping({"months": "12", "ratio": "0.25", "on": "false", "names": "X, Y,Z",
                        "windows": "5,10", "maybe": "1.5"})
    assert p.months == 12 and p.ratio == 0.25 and p.on is False
    assert p.names == ("X", "Y", "Z") and p.windows == (5, 10) and p.maybe == 1.5


def test_from_mapping_accepts_native_values_and_lists():
    p = P.from_mapping({"months": 3, "ratio": 1, "names": ["Q"], "maybe": None})
    assert p.months == 3 and p.ratio == 1.0 and p.names == ("Q",) and p.maybe is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"months": "ten"}, "months"),
        ({"months": "1"}, "months"),
        ({"ratio": "2"}, "ratio"),
        ({"on": "maybe"}, "on"),
        ({"mode": "z"}, "mode"),
        ({"nope": 1}, "nope"),
        ({"name": "BAD"}, "name"),
        ({"months": True}, "months"),
    ],
)
def test_bad_values_raise_param_error_naming_the_field(values, field):
    with pytest.raises(ParamError) as err:
        P.from_mapping(values)
    assert err.value.field == field
    assert field in str(err.value)


def test_direct_construction_is_validated_too():
    with pytest.raises(ParamError):
        P(months=100)


def test_to_mapping_round_trips_and_is_json_safe():
    import json

    p = P(months=7, names=("Z",))
    m = p.to_mapping()
    assert json.loads(json.dumps(m)) == m
    assert P.from_mapping(m) == p


def test_replace_returns_validated_copy():
    p = P()
    q = p.replace(months="20")
    assert q.months == 20 and p.months == 10
    with pytest.raises(ParamError):
        p.replace(months=0)


def test_describe_lists_name_type_default_doc():
    rows = {r[0]: r for r in P.describe()}
    assert rows["months"] == ("months", "int", 10, "average length")
    assert rows["names"][2] == ("A", "B")


def test_constraints_give_each_parameters_declared_bounds_and_choices():
    c = P.constraints()
    assert c["months"] == {"min": 2, "max": 60, "choices": None}
    assert c["mode"] == {"min": None, "max": None, "choices": ["x", "y"]}
    assert c["on"] == {"min": None, "max": None, "choices": None}
