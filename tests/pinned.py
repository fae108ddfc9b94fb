"""Pinned simulator clocks, so that no test depends on the day or the hour it runs.

Wednesday 2026-11-18 is a regular full session of the New York exchanges, in standard time
(09:30-16:00 New York is 14:30-21:00 UTC); the simulator and the hosts both take it from the
XNYS calendar.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

#: Five minutes into the Wednesday session: quotes, volume and fills as on any trading day.
SESSION = "2026-11-18T14:35:00+00:00"
SESSION_TS = pd.Timestamp(SESSION)

#: Tests that rely on a thread's timed wait (threading.Event.wait with a timeout) cannot run
#: under libfaketime (`tests/at-time`, `make test-clock`): it hangs such waits. They test
#: timers, not dates, and run in every plain `make test`.
THREAD_TIMERS = pytest.mark.skipif(
    "FAKETIME" in os.environ, reason="libfaketime hangs timed waits of threads")
