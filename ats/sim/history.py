"""IB historical-data request vocabulary: durations, bar sizes, end times."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

_BAR_UNITS = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600,
              "day": 86400, "days": 86400, "week": 7 * 86400, "weeks": 7 * 86400,
              "month": 30 * 86400, "months": 30 * 86400}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
VALID_WHAT = frozenset({"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST",
                        "HISTORICAL_VOLATILITY", "OPTION_IMPLIED_VOLATILITY"})
MAX_BARS = 100_000


class HistoryError(ValueError):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def bar_seconds(setting: str) -> int:
    """'5 secs' -> 5, '1 hour' -> 3600, '1 day' -> 86400, '1 month' -> 2592000."""
    m = re.fullmatch(r"\s*(\d+)\s+([a-zA-Z]+)\s*", setting)
    if not m or m.group(2).lower() not in _BAR_UNITS:
        raise HistoryError(321, f"Error validating request:-'bar size' : {setting!r} is invalid")
    return int(m.group(1)) * _BAR_UNITS[m.group(2).lower()]


def duration_seconds(text: str) -> tuple[int, str]:
    """'2 D' -> (172800, 'D')."""
    m = re.fullmatch(r"\s*(\d+)\s*([SDWMY])\s*", text)
    if not m:
        raise HistoryError(162, "Historical Market Data Service error message:"
                                f"Invalid duration {text!r}")
    return int(m.group(1)) * _DURATION_UNITS[m.group(2)], m.group(2)


def parse_end(text: str, now: float) -> float:
    """IB endDateTime: '' (now), 'YYYYMMDD HH:MM:SS [TZ]', 'YYYYMMDD-HH:MM:SS' (UTC)."""
    text = text.strip()
    if not text:
        return now
    try:
        if "-" in text and " " not in text:
            d = dt.datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC)
            return d.timestamp()
        parts = text.split()
        if len(parts) == 1:
            d = dt.datetime.strptime(parts[0], "%Y%m%d").replace(tzinfo=dt.UTC)
            return d.timestamp() + 86399
        d = dt.datetime.strptime(parts[0] + parts[1], "%Y%m%d%H:%M:%S")
        tz = ZoneInfo(parts[2]) if len(parts) > 2 else dt.UTC
        return d.replace(tzinfo=tz).timestamp()
    except (ValueError, KeyError) as exc:
        raise HistoryError(321, f"Error validating request:-'endDateTime' : {exc}") from None
