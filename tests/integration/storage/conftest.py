"""A moto S3 server for the module, a fresh bucket per test, the test credentials in the
environment (ArcticDB reads them through AWS's chain, as on a real host)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3kit import CREDENTIALS, S3Server

from ats import config

# the broker's test kit (executions, commissions) serves the ledger tests here too
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "broker"))


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def cfg(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> config.Config:
    """A home whose [storage] arctic_uri is a new bucket on the S3 server (no credentials)."""
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return config.init_home(tmp_path / "home", {"storage": {"arctic_uri": s3.uri(s3.bucket())}})
