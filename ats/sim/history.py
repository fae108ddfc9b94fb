"""IB historical-data request vocabulary (durations, bar sizes, end times), and daily bars
gathered into weekly and monthly ones."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from ats.sim.market import Bar

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


def aggregate(bars: list[Bar], secs: int) -> list[Bar]:
    """Daily bars gathered into bars of `secs` (a week: by ISO week; 28 days or more: by
    calendar month); unchanged for a day or less."""
    if secs <= 86400 or not bars:
        return bars
    out: list[Bar] = []
    group: list[Bar] = []

    def key(b: Bar) -> tuple[int, int]:
        d = dt.datetime.fromtimestamp(b.time, dt.UTC).date()
        if secs >= 28 * 86400:
            return d.year, d.month
        iso = d.isocalendar()
        return iso[0], iso[1]

    for b in bars:
        if group and key(group[0]) != key(b):
            out.append(_merge(group))
            group = []
        group.append(b)
    out.append(_merge(group))
    return out


def _merge(group: list[Bar]) -> Bar:
    vol = sum(b.volume for b in group) if group[0].volume >= 0 else group[0].volume
    return Bar(group[0].time, group[0].open, max(b.high for b in group),
               min(b.low for b in group), group[-1].close, vol,
               round(sum(b.wap for b in group) / len(group), 4), sum(b.count for b in group))
