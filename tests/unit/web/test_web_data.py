"""GET /api/data: the Data page's reads of a real ArcticDB on LMDB; nothing there writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from webkit import FakeBackend, client, console, login

from ats.broker.ledger_store import LIBRARY as LEDGER
from ats.storage.arctic import open_arctic


@pytest.fixture
def tc(tmp_path: Path) -> TestClient:
    uri = f"lmdb://{tmp_path / 'arctic'}"
    arctic = open_arctic(uri)
    arctic.get_library("research", create_if_missing=True).write(
        "signals", pd.DataFrame({"score": [0.5, 0.25, 0.125]},
                                index=pd.date_range("2026-02-02", periods=3, name="day")))
    arctic.get_library(LEDGER, create_if_missing=True).write(
        "fills", pd.DataFrame({"seq": [1], "time": ["2026-01-05T14:30:00+00:00"]}))
    web = console(tmp_path, FakeBackend())
    web.arctic_uri = uri
    return client(web)


def test_libraries_symbols_and_rows_answer_what_ats_ctl_data_prints(tc: TestClient) -> None:
    libs = {r["library"]: r for r in tc.get("/api/data/libraries").json()}
    assert libs[LEDGER]["protected"] and not libs["research"]["protected"]
    [signals] = tc.get("/api/data/libraries/research").json()
    assert (signals["symbol"], signals["rows"], signals["columns"]) == ("signals", 3, ["score"])
    assert (signals["first"], signals["last"]) == ("2026-02-02T00:00:00+00:00",
                                                   "2026-02-04T00:00:00+00:00")
    head = tc.get("/api/data/libraries/research/signals", params={"head": 2}).json()
    assert head["summary"]["rows"] == 3
    assert [r["score"] for r in head["rows"]] == [0.5, 0.25]
    tail = tc.get("/api/data/libraries/research/signals", params={"tail": 1}).json()
    assert [r["score"] for r in tail["rows"]] == [0.125]


def test_an_unknown_library_or_symbol_is_a_404_naming_it(tc: TestClient) -> None:
    for path, words in (("/api/data/libraries/nope", "no library 'nope'"),
                        ("/api/data/libraries/research/nothing", "no symbol 'nothing'")):
        r = tc.get(path)
        assert r.status_code == 404
        assert r.json()["error"] == {"code": "NO_DATA", "message": r.json()["error"]["message"]}
        assert words in r.json()["error"]["message"]


def test_nothing_under_api_data_deletes_even_when_logged_in(tc: TestClient) -> None:
    headers = login(tc)
    r = tc.delete("/api/data/libraries/research/signals", headers=headers)
    assert r.status_code == 405
    assert tc.get("/api/data/libraries/research").json()[0]["rows"] == 3
