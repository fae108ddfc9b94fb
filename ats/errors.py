"""Stable error codes of ats's control services, beyond bus.errors.Code's generic ones.

ats-ctl maps each to a distinct exit code (ats/cli/exitcodes.py).
"""

from __future__ import annotations


class Code:
    UNKNOWN_STRATEGY = "UNKNOWN_STRATEGY"  #: no such strategy in the registry
    ALREADY_RUNNING = "ALREADY_RUNNING"  #: start of a running strategy
    NOT_RUNNING = "NOT_RUNNING"  #: stop of a stopped strategy
    ALREADY_EXISTS = "ALREADY_EXISTS"  #: add of a registered name
    BAD_NAME = "BAD_NAME"  #: a strategy name outside [a-z0-9_-]
    BAD_PARAMS = "BAD_PARAMS"  #: a parameter failed validation
    INVALID_STRATEGY = "INVALID_STRATEGY"  #: the strategy file does not import or validate
    DISABLED = "DISABLED"  #: start of a disabled strategy
    SUPERVISOR_DOWN = "SUPERVISOR_DOWN"  #: supervisord's socket does not answer
    NO_ACK = "NO_ACK"  #: a running strategy did not acknowledge a change in time
    RISK_REJECTED = "RISK_REJECTED"  #: pre-trade risk refused the order
    HALTED = "HALTED"  #: trading is halted for the strategy or the account
    DISCONNECTED = "DISCONNECTED"  #: the venue connection is down
    HOST_LOST = "HOST_LOST"  #: the strategy's host has no agent on the bus (LOST or unknown)
    TOO_MANY_CLIENTS = "TOO_MANY_CLIENTS"  #: a strategy past IB's 32 API clients per Gateway
    UNKNOWN_VENUE = "UNKNOWN_VENUE"  #: a venue neither [venue] nor [[venues]] names

RESERVED_NAMES = frozenset({"manager", "broker", "bus", "gateway-sim", "web", "alerts",
                            "scheduler", "ctl", "repl", "all"})
