"""The JSON API: reads are open; a change needs a session and its CSRF token, goes to the
manager or broker as the ats-ctl request does, and is audited with its result."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from webkit import TOKEN, FakeBackend, client, login

from ats.errors import Code
from ats.report import metrics as m
from ats.web import audit
from ats.web.auth import CSRF_HEADER, SESSION_COOKIE
from ats.web.console import Console
from bus.errors import RequestError

CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("/api/strategies/example/start", {}),
    ("/api/strategies/example/stop", {}),
    ("/api/strategies/example/restart", {}),
    ("/api/strategies/example/halt", {"flatten": True}),
    ("/api/strategies/example/resume", {}),
    ("/api/strategies/example/params", {"changes": {"fast": "3"}}),
    ("/api/strategies/example/weights", {"target_weight": 0.5}),
    ("/api/limits", {"account": True, "limits": {"max_order_qty": 1}}),
    ("/api/halt", {}),
    ("/api/resume", {}),
    ("/api/assign", {"symbol": "SPY", "quantity": 10, "to": "example"}),
    ("/api/schedule/nightly/run", {}),
]


def records(web: Console) -> list[dict[str, Any]]:
    return audit.read(web.audit.path)


def test_reads_need_no_login_and_ask_what_ats_ctl_asks(tc: TestClient,
                                                       backend: FakeBackend) -> None:
    backend.replies[("manager", "status")] = [{"name": "example", "state": "RUNNING"}]
    backend.replies[("broker", "pnl")] = [{"strategy": "example", "realized_pnl_net": 1.5,
                                           "unrealized_pnl": 2.0}]
    assert tc.get("/api/status").json() == [{"name": "example", "state": "RUNNING"}]
    assert tc.get("/api/pnl").json()[0]["total_pnl"] == 3.5
    tc.get("/api/orders", params={"strategy": "example", "all": "true"})
    tc.get("/api/strategies/example")
    assert backend.calls[2:] == [("broker", "orders", {"all": True, "strategy": "example"}),
                                 ("manager", "describe", {"name": "example"})]


@pytest.mark.parametrize(("path", "body"), CHANGES)
def test_a_change_without_a_session_is_refused_401_and_nothing_is_asked(
        tc: TestClient, backend: FakeBackend, web: Console, path: str,
        body: dict[str, Any]) -> None:
    r = tc.post(path, json=body)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"
    assert backend.calls == []
    [rec] = records(web)
    assert (rec["who"], rec["result"], rec["action"]) == ("anonymous", audit.REFUSED,
                                                          f"POST {path}")


@pytest.mark.parametrize(("path", "body"), CHANGES)
def test_a_change_with_a_session_but_without_its_csrf_token_is_refused_403(
        tc: TestClient, backend: FakeBackend, path: str, body: dict[str, Any]) -> None:
    login(tc)
    assert tc.post(path, json=body).status_code == 403
    assert tc.post(path, json=body, headers={CSRF_HEADER: "forged"}).status_code == 403
    assert backend.calls == []


def test_a_stolen_csrf_token_without_the_session_cookie_is_refused(
        tc: TestClient, backend: FakeBackend) -> None:
    headers = login(tc)
    tc.cookies.clear()
    assert tc.post("/api/strategies/example/stop", headers=headers).status_code == 401
    assert backend.calls == []


def test_malformed_json_without_a_session_is_still_401(tc: TestClient,
                                                      backend: FakeBackend) -> None:
    r = tc.post("/api/strategies/example/params", content=b"{not json",
                headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and backend.calls == []


def test_a_wrong_token_opens_no_session_and_is_audited(tc: TestClient, web: Console) -> None:
    r = tc.post("/api/login", json={"token": "guess"})
    assert r.status_code == 401 and SESSION_COOKIE not in r.cookies
    assert tc.get("/api/session").json()["logged_in"] is False
    [rec] = records(web)
    assert (rec["action"], rec["result"]) == ("login", audit.REFUSED)
    assert "guess" not in json.dumps(rec) and TOKEN not in web.audit.path.read_text()


def test_login_sets_an_httponly_samesite_strict_cookie(tc: TestClient) -> None:
    r = tc.post("/api/login", json={"token": TOKEN})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    session = tc.get("/api/session").json()
    assert session["logged_in"] and session["csrf"] == r.json()["csrf"]


@pytest.mark.parametrize(("path", "body", "call"), [
    ("/api/strategies/example/stop", {}, ("manager", "stop", {"name": "example"})),
    ("/api/strategies/example/start", {}, ("manager", "start", {"name": "example"})),
    ("/api/strategies/example/restart", {}, ("manager", "restart", {"name": "example"})),
    ("/api/strategies/example/halt", {"flatten": True},
     ("broker", "halt", {"strategy": "example", "flatten": True,
                         "reason": "operator halt (web)"})),
    ("/api/strategies/example/resume", {}, ("broker", "resume", {"strategy": "example"})),
    ("/api/halt", {}, ("broker", "halt", {"strategy": None, "flatten": False,
                                          "reason": "operator halt (web)"})),
    ("/api/resume", {}, ("broker", "resume", {"strategy": None})),
    ("/api/strategies/example/params", {"changes": {"fast": "3"}},
     ("manager", "set", {"name": "example", "changes": {"fast": "3"}})),
    ("/api/strategies/example/weights", {"target_weight": 0.05, "force": True},
     ("manager", "set_weights", {"name": "example", "target_weight": 0.05, "force": True})),
    ("/api/limits", {"strategy": "example", "limits": {"max_order_qty": 5}},
     ("broker", "set_limits", {"strategy": "example", "limits": {"max_order_qty": 5}})),
    ("/api/limits", {"account": True, "limits": {"max_position": None}},
     ("broker", "set_limits", {"strategy": None, "limits": {"max_position": None}})),
])
def test_each_change_is_the_request_ats_ctl_makes_and_is_audited(
        tc: TestClient, backend: FakeBackend, web: Console, path: str, body: dict[str, Any],
        call: tuple[str, str, dict[str, Any]]) -> None:
    headers = login(tc)
    r = tc.post(path, json=body, headers=headers)
    assert r.status_code == 200, r.text
    rec = records(web)[-1]
    assert rec["result"] == audit.OK and rec["who"].startswith("session:")
    if call[1] in ("halt", "resume"):  # the broker is told who, for its alert
        call = (call[0], call[1], {**call[2], "by": f"web:{rec['who']}"})
    assert backend.changes() == [call]
    assert rec["params"] == call[2]


def test_a_refused_parameter_answers_422_with_the_managers_message(
        tc: TestClient, backend: FakeBackend, web: Console) -> None:
    message = "fast: must be < slow (20), got 30"
    backend.replies[("manager", "set")] = RequestError(Code.BAD_PARAMS, message)
    r = tc.post("/api/strategies/example/params", json={"changes": {"fast": "30"}},
                headers=login(tc))
    assert r.status_code == 422
    assert r.json() == {"error": {"code": "BAD_PARAMS", "message": message}}
    rec = records(web)[-1]
    assert (rec["result"], rec["detail"]) == (audit.FAILED, f"BAD_PARAMS: {message}")


@pytest.mark.parametrize(("code", "status"), [(Code.UNKNOWN_STRATEGY, 404),
                                              (Code.NOT_RUNNING, 409),
                                              ("UNREACHABLE", 503)])
def test_service_errors_map_to_http_statuses(tc: TestClient, backend: FakeBackend, code: str,
                                             status: int) -> None:
    backend.replies[("manager", "stop")] = RequestError(code, "no")
    r = tc.post("/api/strategies/x/stop", headers=login(tc))
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_limits_need_a_strategy_or_the_account_not_both(tc: TestClient,
                                                       backend: FakeBackend) -> None:
    r = tc.post("/api/limits", json={"strategy": "a", "account": True, "limits": {}},
                headers=login(tc))
    assert r.status_code == 422 and backend.changes() == []


def test_limits_of_an_unknown_strategy_are_refused_404_before_the_broker_is_asked(
        tc: TestClient, backend: FakeBackend) -> None:
    backend.replies[("manager", "get")] = RequestError(Code.UNKNOWN_STRATEGY, "no such")
    r = tc.post("/api/limits", json={"strategy": "nope", "limits": {"max_order_qty": 1}},
                headers=login(tc))
    assert r.status_code == 404 and backend.changes() == []


def test_logout_ends_the_session(tc: TestClient, backend: FakeBackend) -> None:
    headers = login(tc)
    assert tc.post("/api/logout", headers=headers).status_code == 200
    assert tc.post("/api/strategies/example/stop", headers=headers).status_code == 401


def test_pages_are_served_with_a_same_origin_content_security_policy(tc: TestClient) -> None:
    for path in ("/", "/strategy/example", "/orders", "/risk", "/performance", "/login"):
        r = tc.get(path)
        assert r.status_code == 200 and "<html" in r.text
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert tc.get("/static/app.js").status_code == 200


def test_a_loopback_console_refuses_another_host_name(web: Console) -> None:
    web.hosts = ("127.0.0.1", "localhost")
    tc = client(web)
    assert tc.get("/api/status").status_code == 200
    assert tc.get("/api/status", headers={"Host": "evil.example:8765"}).status_code == 400


def test_nan_in_a_reply_becomes_null(tc: TestClient, backend: FakeBackend) -> None:
    backend.replies[("broker", "positions")] = [{"mark": float("nan")}]
    assert tc.get("/api/positions").json() == [{"mark": None}]


def test_the_log_tail_reads_the_strategys_log_and_refuses_a_bad_name(
        tc: TestClient, web: Console) -> None:
    web.log_dir.mkdir()
    (web.log_dir / "strategy-example.log").write_text("one\ntwo\nthree\n")
    assert tc.get("/api/strategies/example/log", params={"lines": 2}).json()["lines"] == \
        ["two", "three"]
    assert tc.get("/api/strategies/Bad..Name/log").status_code == 400


def test_the_api_is_described_for_scripts_at_openapi_json(tc: TestClient) -> None:
    paths = tc.get("/openapi.json").json()["paths"]
    assert {"/api/status", "/api/strategies/{name}/stop", "/api/limits"} <= set(paths)
    assert tc.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_performance_measures_the_account_and_each_strategy_like_ats_ctl_report(
        tc: TestClient, backend: FakeBackend) -> None:
    days = pd.date_range("2026-01-05", periods=40, freq="B", tz="UTC")
    pnl_a = np.cumsum(np.r_[0.0, np.tile([120.0, -80.0, 150.0, -40.0], 10)[:39]])
    backend.replies[("broker", "equity")] = [
        {"ts": t.isoformat(), "strategy": "a", "equity": float(e), "market_value": 0.0}
        for t, e in zip(days, pnl_a, strict=True)]
    backend.replies[("broker", "fills")] = []
    backend.replies[("broker", "account")] = {
        "NetLiquidation|USD": {"tag": "NetLiquidation", "currency": "USD",
                               "value": str(1_000_000.0 + pnl_a[-1])}}
    backend.replies[("broker", "pnl")] = [{"strategy": "a", "equity": float(pnl_a[-1])}]
    backend.replies[("manager", "list")] = [{"name": "a", "target_weight": 0.1}]
    r = tc.get("/api/performance")
    assert r.status_code == 200, r.text
    rows = {row["name"]: row for row in r.json()["rows"]}
    assert set(rows) == {"account", "a"}
    a = rows["a"]
    assert a["capital_base"] == 100_000.0  # 0.1 x the account's 1,000,000
    assert (a["record"], a["short_record"]) == ("39 daily returns", False)
    # independently: daily simple returns of 100,000 + P&L, 252 a year, no risk-free rate
    equity = 100_000.0 + pnl_a
    rets = np.diff(equity) / equity[:-1]
    assert a["total_return"] == pytest.approx(equity[-1] / 100_000.0 - 1)
    assert a["sharpe"] == pytest.approx(rets.mean() / rets.std(ddof=1) * np.sqrt(252), rel=1e-6)
    assert a["max_drawdown"] == pytest.approx(
        float(np.min(equity / np.maximum.accumulate(equity) - 1)))
    assert m.Conventions("daily", 0.0).to_dict()["periods_per_year"] == a["periods_per_year"]


def test_the_benchmark_is_the_pnl_the_strategys_capital_base_would_have_made_holding_it(
        web: Console, backend: FakeBackend) -> None:
    times = pd.date_range("2026-11-18T14:30Z", periods=5, freq="1min")
    stored = pd.Series([100.0, 101.0, 102.0, 99.0, 100.5], index=times)
    asked: list[tuple[str, str]] = []

    def closes(symbol: str, bar: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        asked.append((symbol, bar))
        return stored[(stored.index >= start) & (stored.index <= end)]

    web.closes = closes
    backend.replies[("manager", "get")] = {"name": "ltmt", "target_weight": 0.2,
                                           "benchmark": "acwi"}
    backend.replies[("broker", "account")] = {
        "NetLiquidation|USD": {"tag": "NetLiquidation", "currency": "USD", "value": "1000100"}}
    backend.replies[("broker", "pnl")] = [{"strategy": "ltmt", "equity": 100.0}]
    r = client(web).get("/api/strategies/ltmt/benchmark",
                        params={"start": "2026-11-18T14:31:30Z", "end": "2026-11-18T14:34:00Z"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["symbol"], body["capital_base"]) == ("ACWI", 200_000.0)
    assert asked == [("ACWI", "1min")]
    # held from 14:31:30 at the 14:31 close (101): +1.0%, -2.0%, -0.5% of 200,000
    assert [p["pnl"] for p in body["points"]] == pytest.approx(
        [0.0, 200_000 * (102 / 101 - 1), 200_000 * (99 / 101 - 1), 200_000 * (100.5 / 101 - 1)])


def test_without_stored_bars_the_benchmark_says_how_to_get_them(tc: TestClient,
                                                                backend: FakeBackend) -> None:
    backend.replies[("manager", "get")] = {"name": "x", "target_weight": 0.0}
    backend.replies[("broker", "account")] = {
        "NetLiquidation|USD": {"tag": "NetLiquidation", "currency": "USD", "value": "1000000"}}
    backend.replies[("broker", "pnl")] = []
    r = tc.get("/api/strategies/x/benchmark",
               params={"start": "2026-11-18T14:31:30Z", "end": "2026-11-18T14:34:00Z"})
    assert r.json() == {"symbol": "SPY", "capital_base": 1_000_000.0, "points": [],
                        "note": "no SPY bars stored for these times: `ats-ctl data fetch SPY`"}
