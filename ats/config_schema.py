"""The schema of ats.toml: every section and key, its type and its range, checked by jsonschema.

The schema is derived from the defaults (``ats.config.DEFAULTS``): every key there is allowed,
with the type of its default value, and no other key is. ``CONSTRAINTS`` adds what a default
cannot say (ranges, choices, formats, the shape of a seed strategy), keyed by the key's path.
Each failure becomes one sentence that names the key as it is written in the file, e.g.
``[sim] speed must be > 0, got 0`` or ``unknown key [venue] prot (did you mean port?)``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from ats.sim.clock import parse_start
from bus.endpoints import PORT_OFFSETS, is_loopback

Schema = dict[str, Any]
KeyPath = tuple[str, ...]  #: a key's place in the file: ("risk", "account", "max_position")

PORT: Schema = {"minimum": 1, "maximum": 65535}
POSITIVE: Schema = {"exclusiveMinimum": 0}  #: seconds, speeds, leverage
NOT_NEGATIVE: Schema = {"minimum": 0}
NOT_EMPTY: Schema = {"minLength": 1}
LIMIT: Schema = {"type": "number", "minimum": 0}  #: a risk limit (ats.broker.risk.Limits)

#: A strategy registered and started on the manager's first start: a name, or a table.
SEED_STRATEGY: Schema = {
    "if": {"type": "string"},
    "then": NOT_EMPTY,
    "else": {
        "type": "object",
        "x-what": "a strategy name or a table",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", **NOT_EMPTY},
            "spec": {"type": "string", **NOT_EMPTY},
            "description": {"type": "string"},
            "params": {"type": "object"},
            "target_weight": {"type": "number", **NOT_NEGATIVE},
            "min_weight": {"type": "number", **NOT_NEGATIVE},
            "max_weight": {"type": "number", **NOT_NEGATIVE},
            "start": {"type": "boolean"},
            "benchmark": {"type": "string"},
            "venue": {"type": "string"},
        },
    },
}

LEVEL: Schema = {"enum": ["INFO", "WARNING", "CRITICAL"]}
#: An alert destination: an Apprise URL and the least severe level it receives.
ALERT_URL: Schema = {
    "if": {"type": "string"},
    "then": NOT_EMPTY,
    "else": {
        "type": "object",
        "x-what": "an Apprise URL or a table {url, min_level}",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {"url": {"type": "string", **NOT_EMPTY}, "min_level": LEVEL},
    },
}
FRACTION: Schema = {"type": "number", "minimum": 0, "maximum": 1}
NAME: Schema = {"type": "string", "pattern": "^[a-z0-9_][a-z0-9_-]{0,47}$",
                "x-what": "lowercase letters, digits, '_' and '-'"}
#: A further Gateway or account ([[venues]]).
VENUE: Schema = {
    "type": "object",
    "required": ["name", "port"],
    "additionalProperties": False,
    "properties": {
        "name": NAME,
        "kind": {"enum": ["sim", "ib"]},
        "host": {"type": "string", **NOT_EMPTY},
        "port": {"type": "integer", **PORT},
        "account": {"type": "string"},
        "master_client_id": {"type": "integer", **NOT_NEGATIVE},
        "connect_timeout": {"type": "number", **POSITIVE},
        "admin_port": {"type": "integer", **PORT},
        "seed": {"type": "integer"},
        "accounts": {"type": "string", **NOT_EMPTY},
        "cash": {"type": "number", **NOT_NEGATIVE},
    },
}

#: What the defaults' types do not say, by the key's path in the file.
CONSTRAINTS: dict[KeyPath, Schema] = {
    ("venue", "name"): NAME,
    ("venue", "kind"): {"enum": ["sim", "ib"]},
    ("venue", "host"): NOT_EMPTY,
    ("venue", "port"): PORT,
    ("venue", "master_client_id"): NOT_NEGATIVE,
    ("venue", "connect_timeout"): POSITIVE,
    ("venues",): {"items": VENUE},
    ("sim", "speed"): POSITIVE,
    ("sim", "start"): {"format": "iso8601", "x-what": "a quoted ISO 8601 instant (or empty)"},
    ("sim", "clock"): {"enum": ["session", "wall", "stepped"]},
    ("sim", "admin_port"): PORT,
    ("sim", "cash"): NOT_NEGATIVE,
    ("sim", "accounts"): NOT_EMPTY,
    ("sim", "max_msg_rate"): NOT_NEGATIVE,  # 0: no pacing
    ("sim", "market"): {"enum": ["synthetic", "stored"]},
    ("bus",): {
        # Over tcp the bus stays on loopback unless remote hosts are allowed explicitly.
        "if": {"properties": {"transport": {"const": "tcp"}, "allow_remote": {"const": False}}},
        "then": {"properties": {"host": {"format": "loopback"}}},
    },
    ("bus", "transport"): {"enum": ["ipc", "tcp"]},
    ("bus", "host"): NOT_EMPTY,
    ("bus", "base_port"): {"minimum": 1, "maximum": 65535 - len(PORT_OFFSETS)},
    ("manager", "first_client_id"): NOT_NEGATIVE,
    ("manager", "heartbeat_timeout"): POSITIVE,
    ("manager", "ib_lib"): {"enum": ["ib_async", "ib_insync"]},
    ("manager", "seed_strategies"): {"items": SEED_STRATEGY},
    ("host", "halt_after_errors"): NOT_NEGATIVE,  # 0: never
    ("hosts", "name"): NAME,
    ("hosts", "role"): {"enum": ["main", "agent"]},
    ("hosts", "lost_seconds"): POSITIVE,
    ("broker", "equity_sample_seconds"): POSITIVE,
    ("broker", "flush_seconds"): POSITIVE,
    ("broker", "reconcile_seconds"): POSITIVE,
    ("broker", "disk_soft_mb"): NOT_NEGATIVE,
    ("broker", "disk_hard_mb"): NOT_NEGATIVE,
    ("data", "client_id"): NOT_NEGATIVE,
    ("data", "library"): NOT_EMPTY,
    ("scheduler", "client_id"): NOT_NEGATIVE,
    ("scheduler", "after_close_minutes"): NOT_NEGATIVE,
    ("scheduler", "retries"): NOT_NEGATIVE,
    ("scheduler", "retry_seconds"): POSITIVE,
    ("scheduler", "tz"): {"format": "timezone", "x-what": "an IANA time zone"},
    ("web", "host"): NOT_EMPTY,
    ("web", "port"): PORT,
    ("alerts", "urls"): {"items": ALERT_URL},
    ("alerts", "repeat_seconds"): NOT_NEGATIVE,
    ("alerts", "max_per_minute"): NOT_NEGATIVE,
    ("alerts", "retry_seconds"): POSITIVE,
    ("alerts", "retry_max_seconds"): POSITIVE,
    ("alerts", "disconnect_seconds"): NOT_NEGATIVE,
    ("alerts", "refusal_burst"): {"minimum": 1},
    ("alerts", "refusal_window_seconds"): POSITIVE,
    ("alerts", "max_drawdown"): FRACTION,
    # any strategy name (or "account") -> its own threshold
    ("alerts", "max_drawdown_by_strategy"): {"additionalProperties": FRACTION},
    ("alerts", "summary_time"): {"pattern": "^$|^([01][0-9]|2[0-3]):[0-5][0-9]$",
                                 "x-what": "HH:MM (or empty)"},
    ("alerts", "summary_tz"): {"format": "timezone", "x-what": "an IANA time zone"},
    ("stats", "interval"): POSITIVE,
    ("stats", "rss_growth_mb"): POSITIVE,
    ("stats", "rss_warmup_seconds"): NOT_NEGATIVE,
    ("stats", "loop_lag_ms"): POSITIVE,
    ("stats", "loop_lag_seconds"): NOT_NEGATIVE,
    ("stats", "fd_ratio"): {"exclusiveMinimum": 0, "maximum": 1},
    ("risk", "max_gross_leverage"): POSITIVE,
    # Every key of these tables (the limits ats.broker.risk.Limits knows) is a LIMIT.
    ("risk", "account", "*"): LIMIT,
    ("risk", "default", "*"): LIMIT,
}


def _iso8601(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return True
    try:
        parse_start(value)
    except ValueError:
        return False
    return True


def _timezone(value: object) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str):
        return True
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _loopback(value: object) -> bool:
    return not isinstance(value, str) or is_loopback(value)


#: Custom formats: name -> (check, what a good value is).
FORMATS: dict[str, tuple[Callable[[object], bool], str]] = {
    "iso8601": (_iso8601, "an ISO 8601 instant (or empty)"),
    "loopback": (_loopback, "a loopback address"),
    "timezone": (_timezone, "an IANA time zone such as America/New_York"),
}

_FORMAT_CHECKER = FormatChecker(formats=())
for _name, (_check, _what) in FORMATS.items():
    _FORMAT_CHECKER.checks(_name)(_check)


def _is_integer(checker: object, instance: object) -> bool:
    # TOML keeps 4002 and 4002.0 apart; so does this schema (jsonschema would take 4002.0).
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
    (dict, "object"), (list, "array"),
)


def _constraint(path: KeyPath) -> Schema:
    exact = CONSTRAINTS.get(path)
    if exact is not None:
        return exact
    return CONSTRAINTS.get((*path[:-1], "*"), {}) if path else {}


def derive(value: Any, path: KeyPath = ()) -> Schema:
    """The schema of a default value: its type, its keys if it is a table, plus CONSTRAINTS."""
    schema: Schema = {}
    for py_type, json_type in _JSON_TYPES:
        if isinstance(value, py_type):
            schema["type"] = json_type
            break
    if isinstance(value, dict):
        schema["properties"] = {k: derive(v, (*path, k)) for k, v in value.items()}
        schema["additionalProperties"] = False
    schema.update(_constraint(path))
    return schema


# -- messages --------------------------------------------------------------------------------

_TYPE_WORDS = {
    "boolean": "true or false", "integer": "an integer", "number": "a number",
    "string": "a string", "object": "a table", "array": "a list",
}


def where(path: Sequence[str | int]) -> str:
    """A key as it is written in the file: ``[risk.account] max_position``,
    ``[manager] seed_strategies[2].target_weight``, ``[venue]``."""
    parts = list(path)
    if not parts:
        return "the file"
    first_index = next((i for i, p in enumerate(parts) if not isinstance(p, str)), len(parts))
    split = max(1, first_index - 1) if first_index < len(parts) else max(1, len(parts) - 1)
    table = ".".join(str(p) for p in parts[:split])
    key = ""
    for p in parts[split:]:
        key += f"[{p}]" if isinstance(p, int) else (f".{p}" if key else str(p))
    return f"[{table}] {key}".rstrip()


def _numbers(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range(schema: Mapping[str, Any]) -> str:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        return f"{_numbers(lo)}..{_numbers(hi)}"
    if "exclusiveMinimum" in schema:
        return f"> {_numbers(schema['exclusiveMinimum'])}"
    if lo is not None:
        return f">= {_numbers(lo)}"
    if hi is not None:
        return f"<= {_numbers(hi)}"
    return ""


def _one_of(choices: Sequence[Any]) -> str:
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _messages(error: ValidationError) -> Iterator[str]:
    path = list(error.absolute_path)
    key, value, schema = where(path), error.instance, error.schema
    assert isinstance(schema, dict)  # a subschema of derive()'s, never a boolean one
    kind = error.validator
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        assert isinstance(value, dict)
        for extra in sorted(set(value) - set(known)):
            what = f"section [{extra}]" if not path else \
                f"key {where([*path, extra])}"
            close = difflib.get_close_matches(str(extra), known, n=1)
            hint = ""
            if close:
                hint = f" (did you mean [{close[0]}]?)" if not path else \
                    f" (did you mean {close[0]}?)"
            yield f"unknown {what}{hint}"
    elif kind == "type":
        want = schema.get("x-what") or _TYPE_WORDS.get(str(schema["type"]), str(schema["type"]))
        yield f"{key} must be {want}, got {value!r}"
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        want = _TYPE_WORDS.get(str(schema.get("type")), "a number")
        rng = _range(schema)
        text = f"{want} {rng}" if ".." in rng else rng
        yield f"{key} must be {text}, got {value!r}"
    elif kind == "enum":
        yield f"{key} must be {_one_of(schema['enum'])}, got {value!r}"
    elif kind == "pattern":
        yield f"{key} must be {schema.get('x-what', 'like ' + str(schema['pattern']))}, " \
              f"got {value!r}"
    elif kind == "minLength":
        yield f"{key} must not be empty"
    elif kind == "format":
        yield f"{key} must be {FORMATS[str(schema['format'])][1]}, got {value!r}"
    elif kind == "required":
        yield f"{key} needs {error.message.split(' is a required')[0]}"
    else:
        yield f"{key}: {error.message}"


def check(data: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Every way `data` (the defaults merged with the file) breaks the schema, one sentence
    each, sorted by key; empty when it is valid."""
    validator = _Validator(derive(dict(defaults)), format_checker=_FORMAT_CHECKER)
    out = {m for e in validator.iter_errors(dict(data)) for m in _messages(e)}
    return sorted(out)
