"""The unit tier: every test gets a fresh ArcticDB, so it never pays ArcticDB's storage-lock
pause.

The first `list_symbols` of a library compacts its symbol list under a storage lock, and
taking that lock waits `StorageLock.WaitMs` (1 s by default) to see that no other writer took
it too: a guard for a store shared by processes, which these tests' temp stores are not. A
long-lived store compacts once; a fresh store per test paid the second every time. Set here,
before anything imports arcticdb (it reads the environment at import), so child processes
inherit it too.
"""

from __future__ import annotations

import os

os.environ.setdefault("ARCTICDB_StorageLock_WaitMs_int", "10")
