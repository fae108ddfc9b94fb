from __future__ import annotations

import pytest

from bus import topics


def test_topics_end_with_separator_so_they_are_exact_prefixes() -> None:
    assert topics.status("ltmt") == "status.ltmt."
    assert not topics.status("ltmt2").startswith(topics.status("ltmt"))
    assert topics.status("ltmt").startswith(topics.prefix("status"))
    assert topics.status("ltmt").startswith(topics.prefix("status", "ltmt"))
    assert not topics.order("ltmt").startswith(topics.prefix("status"))


def test_every_family_builder() -> None:
    named = {
        topics.status: "status", topics.order: "order", topics.fill: "fill",
        topics.position: "position", topics.pnl: "pnl", topics.hb: "hb", topics.log: "log",
        topics.alert: "alert", topics.params: "params", topics.connection: "connection",
        topics.risk: "risk",
    }
    for fn, family in named.items():
        assert fn("x_1-a") == f"{family}.x_1-a."
        assert topics.parse(fn("x_1-a")) == (family, "x_1-a")
    assert topics.account() == "account."
    assert topics.reconcile() == "reconcile."
    assert topics.parse(topics.account()) == ("account", "")


@pytest.mark.parametrize("bad", ["", "A", "a.b", "-a", "a b", "é", "a/b", "a*"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        topics.status(bad)


def test_prefix_of_everything_is_empty() -> None:
    assert topics.prefix() == ""


@pytest.mark.parametrize("bad", ["status.ltmt", "status", "a.b.c.", "status..", ".x."])
def test_parse_refuses_malformed_topics(bad: str) -> None:
    with pytest.raises(ValueError):
        topics.parse(bad)


def test_named_family_needs_a_name_and_global_refuses_one() -> None:
    with pytest.raises(ValueError):
        topics.build("status")
    with pytest.raises(ValueError):
        topics.build("account", "x")
