"""A real Manager in a temporary ATS_HOME, its sockets created but no supervisord behind it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats import config
from ats.manager.main import Manager


@pytest.fixture
def manager() -> Iterator[Manager]:
    home = Path(tempfile.mkdtemp(prefix="ats-", dir="/tmp"))  # ipc paths stay short
    m = Manager(config.init_home(home))
    try:
        yield m
    finally:
        m.subscriber.close()
        m.publisher.close()
        m._sv_pool.shutdown(wait=False)
        m.ctx.destroy(linger=0)
        m.sync_ctx.destroy(linger=0)
        shutil.rmtree(home, ignore_errors=True)
