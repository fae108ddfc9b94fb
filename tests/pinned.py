"""Pinned simulator clocks, so that no test depends on the day or the hour it runs.

Wednesday 2026-11-18 is a regular full session of the New York exchanges, in standard time,
so the simulator's fixed 14:30-21:00 UTC hours and the XNYS calendar agree on it.
"""

from __future__ import annotations

import pandas as pd

#: Five minutes into the Wednesday session: quotes, volume and fills as on any trading day.
SESSION = "2026-11-18T14:35:00+00:00"
SESSION_TS = pd.Timestamp(SESSION)
