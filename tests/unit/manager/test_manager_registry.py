"""The strategy registry in a real ArcticDB (LMDB in a temp folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.manager.registry import Registry, RegistryError


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"lmdb://{tmp_path}/arctic"


def test_client_ids_are_unique_stable_and_skip_reserved_ids(uri: str) -> None:
    reg = Registry(uri, first_client_id=101, reserved_client_ids=frozenset({102}))
    a = reg.add("alpha", "strategies.example")
    b = reg.add("beta", "strategies.example")
    assert (a.client_id, b.client_id) == (101, 103)
    assert Registry(uri).get("beta").client_id == 103  # read back from ArcticDB


def test_a_removed_strategy_keeps_its_client_id_from_everyone_else(uri: str) -> None:
    reg = Registry(uri, first_client_id=101)
    reg.add("alpha", "strategies.example")
    reg.remove("alpha")
    assert reg.add("beta", "strategies.example").client_id == 102
    assert reg.add("alpha", "strategies.example").client_id == 101  # same name, same id


def test_unknown_duplicate_and_badly_named_strategies_are_refused(uri: str) -> None:
    reg = Registry(uri)
    reg.add("alpha", "strategies.example")
    with pytest.raises(RegistryError) as unknown:
        reg.get("nope")
    assert unknown.value.code == "UNKNOWN_STRATEGY" and "alpha" in unknown.value.message
    with pytest.raises(RegistryError) as dup:
        reg.add("alpha", "strategies.example")
    assert dup.value.code == "ALREADY_EXISTS"
    with pytest.raises(RegistryError) as bad:
        reg.add("Bad Name!", "strategies.example")
    assert bad.value.code == "BAD_NAME"


def test_weights_must_be_ordered(uri: str) -> None:
    with pytest.raises(RegistryError) as exc:
        Registry(uri).add("alpha", "strategies.example", min_weight=0.2, target_weight=0.1)
    assert exc.value.code == "BAD_PARAMS"


def test_desired_state_and_params_survive_a_reload(uri: str) -> None:
    reg = Registry(uri)
    reg.add("alpha", "strategies.example", params={"quantity": 3})
    reg.update("alpha", desired="running", params={"quantity": 4})
    again = Registry(uri).get("alpha")
    assert again.desired == "running" and again.params == {"quantity": 4}


def test_a_strategys_benchmark_is_kept_and_older_rows_have_none(uri: str) -> None:
    from ats.manager import registry as registry_mod
    from ats.storage.arctic import library

    reg = Registry(uri)
    reg.add("ltmt", "strategies.ltmt", benchmark="ACWI")
    reg.add("cnr", "strategies.cnr")
    assert Registry(uri).get("ltmt").benchmark == "ACWI"
    assert Registry(uri).get("cnr").benchmark == ""  # reports use SPY
    lib = library(uri, registry_mod.LIBRARY)  # as written before the field existed
    lib.write(registry_mod.SYMBOL, lib.read(registry_mod.SYMBOL).data.drop(columns="benchmark"))
    assert Registry(uri).get("ltmt").benchmark == ""
