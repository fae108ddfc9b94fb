"""Typed, validated strategy parameters: frozen dataclasses with defaults.

A strategy declares its parameters as a frozen dataclass deriving from `Params`. Each field
may be declared with `param(default, doc, min=, max=, choices=)`, whose bounds are checked
automatically; subclasses add cross-field checks in `validate()`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

_DOC = "doc"
_MIN = "min"
_MAX = "max"
_CHOICES = "choices"
_TRUE = frozenset({"1", "true", "yes", "on", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "n"})


class ParamError(ValueError):
    """A parameter value is unknown, of the wrong type or out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def param(
    default: Any,
    doc: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """Declare a parameter field with a default, a one-line doc and optional bounds."""
    meta = {_DOC: doc, _MIN: min, _MAX: max, _CHOICES: choices}
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Params:
    """Base of every strategy's parameter dataclass (subclasses use @dataclass(frozen=True))."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_bounds(f, getattr(self, f.name))
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; raise ParamError(field, message)."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build from a mapping of possibly-string values, coerced to the field types."""
        hints = _hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ParamError(
                unknown[0], f"unknown parameter (known: {', '.join(sorted(names)) or 'none'})"
            )
        kwargs = {k: coerce(k, v, hints[k]) for k, v in values.items()}
        try:
            return cls(**kwargs)
        except ParamError:
            raise
        except (TypeError, ValueError) as exc:
            raise ParamError("*", str(exc)) from exc

    def to_mapping(self) -> dict[str, Any]:
        """JSON-safe mapping of field name to value (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self, **changes: Any) -> Self:
        """A validated copy with `changes` applied (values coerced like from_mapping)."""
        merged = {**self.to_mapping(), **changes}
        return type(self).from_mapping(merged)

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, type, default, doc) for every parameter, for docs and the CLI."""
        hints = _hints(cls)
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get(_DOC, "")))
        return rows


    @classmethod
    def constraints(cls) -> dict[str, dict[str, Any]]:
        """Each parameter's bounds as declared with `param()`: min, max and choices (None when
        not declared), for forms that check a value before it is sent."""
        return {f.name: {"min": f.metadata.get(_MIN), "max": f.metadata.get(_MAX),
                         "choices": list(c) if (c := f.metadata.get(_CHOICES)) else None}
                for f in dataclasses.fields(cls)}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _check_bounds(f: dataclasses.Field[Any], value: Any) -> None:
    lo, hi, choices = f.metadata.get(_MIN), f.metadata.get(_MAX), f.metadata.get(_CHOICES)
    if choices is not None and value not in choices:
        raise ParamError(f.name, f"must be one of {list(choices)}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if lo is not None and value < lo:
            raise ParamError(f.name, f"must be >= {lo}, got {value!r}")
        if hi is not None and value > hi:
            raise ParamError(f.name, f"must be <= {hi}, got {value!r}")


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Coerce `value` (often a string from the CLI) to the annotated type `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        is_none = value is None or (
            isinstance(value, str) and value.lower() in ("none", "null", "")
        )
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(name, value, arg)
            except ParamError as exc:
                errors.append(exc.message)
        raise ParamError(name, "; ".join(errors) or f"cannot convert {value!r}")
    if origin in (tuple, list):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ParamError(name, f"expected a list, got {value!r}")
        elem = args[0] if args else str
        return tuple(coerce(name, item.strip() if isinstance(item, str) else item, elem)
                     for item in items if not (isinstance(item, str) and not item.strip()))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ParamError(name, f"expected a boolean, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ParamError(name, f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ParamError(name, f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ParamError(name, f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ParamError(name, f"expected a string, got {value!r}")
    return value
