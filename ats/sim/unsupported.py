"""Requests the simulator does not serve, and how each is answered so no client waits.

Each is answered with an error carrying the request's own id (so the client's pending
request ends) and the code a Gateway sends when that service is unavailable to an account:
162 for HMDS-backed data (scanners, histograms, historical ticks), 430 for fundamentals,
10276 for news, 200 for contracts the venue does not list (options), 321 (validation) for
financial-advisor, display-group and Wall Street Horizon operations. Requests without an id
that a client waits on are answered elsewhere with an empty result; cancels and
subscriptions that expect no answer are ignored. ats/sim/README.md lists the same facts as a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.sim import versions as V


@dataclass(frozen=True)
class Refusal:
    name: str  #: the EClient method
    req_at: int | None  #: index of the request id in the fields (0 is the message id)
    code: int
    text: str
    req_at_before: tuple[int, int] | None = None  #: (version, index) below that version


_SCANNER = "Historical Market Data Service error message:API scanner subscription " \
           "cancelled: scanners are not available in the simulator"
_NEWS = "News feed is not allowed."
_FA = "Error validating request:-'{name}' : cause - FA data operations ignored for non FA " \
      "customers."
_NO_DEF = "No security definition has been found for the request"
_WSH = "Error validating request:-'wsh' : cause - Wall Street Horizon data is not " \
       "available in the simulator"
_GROUPS = "Error validating request:-'{name}' : cause - display groups are not available " \
          "on a Gateway"

REFUSED: dict[int, Refusal] = {
    18: Refusal("requestFA", None, 321, _FA),
    19: Refusal("replaceFA", 2, 321, _FA),
    21: Refusal("exerciseOptions", 2, 200, _NO_DEF),
    22: Refusal("reqScannerSubscription", 1, 162, _SCANNER,
                req_at_before=(V.SCANNER_GENERIC_OPTS, 2)),
    52: Refusal("reqFundamentalData", 2, 430,
                "We are sorry, but fundamentals data for the security specified is not "
                "available.Not allowed"),
    54: Refusal("calculateImpliedVolatility", 2, 200, _NO_DEF),
    55: Refusal("calculateOptionPrice", 2, 200, _NO_DEF),
    65: Refusal("verifyRequest", None, 321, "Error validating request:-'verifyRequest' : "
                                           "cause - API verification is not required"),
    67: Refusal("queryDisplayGroups", 2, 321, _GROUPS),
    68: Refusal("subscribeToGroupEvents", 2, 321, _GROUPS),
    69: Refusal("updateDisplayGroup", 2, 321, _GROUPS),
    84: Refusal("reqNewsArticle", 1, 10276, _NEWS),
    86: Refusal("reqHistoricalNews", 1, 10276, _NEWS),
    88: Refusal("reqHistogramData", 1, 162,
                "Historical Market Data Service error message:histogram data is not "
                "available in the simulator"),
    96: Refusal("reqHistoricalTicks", 1, 162,
                "Historical Market Data Service error message:historical ticks are not "
                "available in the simulator"),
    100: Refusal("reqWshMetaData", 1, 321, _WSH),
    102: Refusal("reqWshEventData", 1, 321, _WSH),
}

#: Requests that expect no answer (cancels, unsubscribes, settings): accepted and ignored.
IGNORED: dict[int, str] = {
    12: "reqNewsBulletins",
    13: "cancelNewsBulletins",
    14: "setServerLogLevel",
    23: "cancelScannerSubscription",
    53: "cancelFundamentalData",
    56: "cancelCalculateImpliedVolatility",
    57: "cancelCalculateOptionPrice",
    63: "cancelAccountSummary",
    66: "verifyMessage",
    70: "unsubscribeFromGroupEvents",
    71: "startApi (repeated)",
    75: "cancelPositionsMulti",
    77: "cancelAccountUpdatesMulti",
    89: "cancelHistogramData",
    90: "cancelHeadTimeStamp",
    101: "cancelWshMetaData",
    103: "cancelWshEventData",
}


def refusal_req_id(r: Refusal, fields: list[str], version: int) -> int:
    """The request id the refusal must carry, or -1 when the request has none."""
    at = r.req_at
    if r.req_at_before is not None and version < r.req_at_before[0]:
        at = r.req_at_before[1]
    if at is None:
        return -1
    try:
        return int(fields[at])
    except (IndexError, ValueError):
        return -1
