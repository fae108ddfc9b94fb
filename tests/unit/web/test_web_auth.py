"""Sessions: the token opens one; it expires; a change needs it and its own CSRF token."""

from __future__ import annotations

import pytest

from ats.web.auth import MAX_SESSIONS, Refused, Sessions


def test_the_right_token_opens_a_session_and_a_wrong_one_does_not() -> None:
    sessions = Sessions("tok")
    assert sessions.login("nope", "127.0.0.1") is None
    s = sessions.login("tok", "127.0.0.1")
    assert s is not None and sessions.get(s.id) == s and s.id != s.csrf


def test_a_session_expires_after_its_ttl() -> None:
    sessions = Sessions("tok", ttl=10.0)
    s = sessions.login("tok", "r", now=100.0)
    assert s is not None
    assert sessions.get(s.id, now=109.0) == s
    assert sessions.get(s.id, now=111.0) is None


def test_authorize_wants_a_session_then_its_own_csrf_token() -> None:
    sessions = Sessions("tok")
    a, b = sessions.login("tok", "r"), sessions.login("tok", "r")
    assert a is not None and b is not None
    with pytest.raises(Refused) as no_session:
        sessions.authorize(None, a.csrf)
    assert no_session.value.status == 401
    with pytest.raises(Refused) as other_csrf:
        sessions.authorize(a.id, b.csrf)
    assert other_csrf.value.status == 403
    assert sessions.authorize(a.id, a.csrf) == a


def test_the_oldest_session_goes_when_there_are_too_many() -> None:
    sessions = Sessions("tok")
    first = sessions.login("tok", "r")
    assert first is not None
    for _ in range(MAX_SESSIONS):
        sessions.login("tok", "r")
    assert sessions.get(first.id) is None
