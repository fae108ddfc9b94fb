"""The web console's API over a fake backend (no bus, no services)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from webkit import FakeBackend, client, console

from ats.web.console import Console


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def web(tmp_path: Path, backend: FakeBackend) -> Console:
    return console(tmp_path, backend)


@pytest.fixture
def tc(web: Console) -> TestClient:
    return client(web)
