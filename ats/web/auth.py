"""Sessions: read-only without one; every change needs a session and its CSRF token.

Login compares the token of ATS_HOME/state/web-token in constant time and opens a session: a
random id in an HttpOnly, SameSite=Strict cookie, bound to a random CSRF token that the page
reads from GET /api/session and sends back in the X-CSRF-Token header of every POST. Another
site can neither send the cookie (SameSite) nor read the CSRF token (no CORS), so it can change
nothing. Sessions live in the process: a restart of ats-web logs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "ats_session"
CSRF_HEADER = "X-CSRF-Token"
#: seconds a session lasts after its login
SESSION_TTL = 12 * 3600.0
#: at most this many sessions at once; the oldest goes first
MAX_SESSIONS = 64


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    created: float
    remote: str

    @property
    def who(self) -> str:
        return f"session:{self.id[:8]}"


class Refused(Exception):
    """A change without a valid session (401) or without its CSRF token (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Sessions:
    def __init__(self, token: str, ttl: float = SESSION_TTL) -> None:
        self._token = token.encode()
        self.ttl = ttl
        self._sessions: dict[str, Session] = {}

    def login(self, token: str, remote: str, now: float | None = None) -> Session | None:
        """A new session when ``token`` is the login token, else None."""
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        now = time.time() if now is None else now
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, remote)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, now: float | None = None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = time.time() if now is None else now
        if session is not None and now - session.created > self.ttl:
            del self._sessions[session_id]
            return None
        return session

    def logout(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def authorize(self, session_id: str | None, csrf: str | None,
                  now: float | None = None) -> Session:
        """The session allowed to make a change, or Refused (401: no valid session; 403: the
        CSRF token is missing or not this session's)."""
        session = self.get(session_id, now)
        if session is None:
            raise Refused(401, "log in first: changes need a session")
        if not csrf or not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
            raise Refused(403, f"missing or wrong {CSRF_HEADER} header")
        return session
