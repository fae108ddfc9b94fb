"""A console over a fake backend: what the API asks the services, and what they answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ats.web.app import create_app
from ats.web.audit import AuditLog
from ats.web.auth import CSRF_HEADER, Sessions
from ats.web.console import Console
from bus.errors import RequestError

TOKEN = "s3cret-token"


@dataclass
class FakeBackend:
    """Answers from ``replies`` ((service, method) -> result, or a RequestError to raise)."""

    replies: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def call(self, service: str, method: str, params: dict[str, Any] | None = None,
                   timeout: float = 10.0) -> Any:
        self.calls.append((service, method, dict(params or {})))
        reply = self.replies.get((service, method), {})
        if isinstance(reply, RequestError):
            raise reply
        return reply

    def close(self) -> None:
        pass

    def changes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every call but the reads a change may make first (get)."""
        return [c for c in self.calls if c[1] != "get"]


def console(tmp_path: Path, backend: FakeBackend) -> Console:
    return Console(backend=backend, live=None, sessions=Sessions(TOKEN),
                   audit=AuditLog(tmp_path / "audit.jsonl"), log_dir=tmp_path / "log")


def client(c: Console) -> TestClient:
    return TestClient(create_app(c), base_url="http://127.0.0.1")


def login(tc: TestClient) -> dict[str, str]:
    """Log in; the headers a change needs (the session cookie is kept by the client)."""
    r = tc.post("/api/login", json={"token": TOKEN})
    assert r.status_code == 200, r.text
    return {CSRF_HEADER: r.json()["csrf"]}
