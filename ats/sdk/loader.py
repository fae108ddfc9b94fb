"""Find the Strategy class in a module or .py file, with clear errors for operators."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ats.sdk.params import ParamError, Params
from ats.sdk.strategy import Strategy

#: Shipped strategies: short name -> module path.
BUILTIN: dict[str, str] = {
    "ltmt": "strategies.ltmt",
    "pea_oss": "strategies.pea_oss",
    "s2": "strategies.s2",
    "svix": "strategies.svix",
    "short_rsi_thrust": "strategies.short_rsi_thrust",
    "short_vix": "strategies.short_vix",
    "cnr": "strategies.cnr",
    "sie": "strategies.sie",
    "smag7": "strategies.smag7",
    "vow": "strategies.vow",
    "example": "strategies.example",
}


class StrategyLoadError(Exception):
    """A strategy spec cannot be loaded; `message` says why in one or two lines."""

    def __init__(self, spec: str, message: str) -> None:
        super().__init__(f"cannot load strategy {spec!r}: {message}")
        self.spec = spec
        self.message = message


def load_strategy(spec: str) -> type[Strategy[Any]]:
    """Load from a builtin name ("ltmt"), a module path ("strategies.ltmt") or a .py file."""
    module = _import(spec)
    cls = _find_class(spec, module)
    _check_params_type(spec, cls)
    return cls


def validate(spec: str, params: Mapping[str, Any]) -> tuple[type[Strategy[Any]], Params]:
    """Load the strategy and build its params (raises StrategyLoadError or ParamError)."""
    cls = load_strategy(spec)
    try:
        return cls, cls.params_type.from_mapping(params)
    except ParamError:
        raise
    except Exception as exc:  # a validate() hook that fails in an unexpected way
        raise ParamError("*", f"{type(exc).__name__}: {exc}") from exc


def _import(spec: str) -> ModuleType:
    spec_path = BUILTIN.get(spec, spec)
    try:
        if spec_path.endswith(".py") or "/" in spec_path:
            path = Path(spec_path).resolve()
            if not path.is_file():
                raise StrategyLoadError(spec, f"no such file: {path}")
            digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
            name = f"ats_user_strategy_{path.stem}_{digest}"
            mspec = importlib.util.spec_from_file_location(name, path)
            if mspec is None or mspec.loader is None:
                raise StrategyLoadError(spec, f"not a python module: {path}")
            module = importlib.util.module_from_spec(mspec)
            sys.modules[name] = module
            try:
                mspec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return module
        return importlib.import_module(spec_path)
    except StrategyLoadError:
        raise
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}"
        raise StrategyLoadError(spec, f"syntax error at {where}: {exc.msg}") from exc
    except Exception as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        raise StrategyLoadError(spec, f"import failed: {last}") from exc


def _find_class(spec: str, module: ModuleType) -> type[Strategy[Any]]:
    explicit = getattr(module, "STRATEGY", None)
    if explicit is not None:
        if not (inspect.isclass(explicit) and issubclass(explicit, Strategy)):
            raise StrategyLoadError(spec, "STRATEGY must be a Strategy subclass")
        return explicit
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if not found:
        raise StrategyLoadError(spec, "no Strategy subclass defined in the module")
    if len(found) > 1:
        names = ", ".join(sorted(c.__name__ for c in found))
        raise StrategyLoadError(
            spec, f"several Strategy subclasses ({names}); set STRATEGY = <class> to choose"
        )
    return found[0]


def _check_params_type(spec: str, cls: type[Strategy[Any]]) -> None:
    pt = getattr(cls, "params_type", None)
    if not (inspect.isclass(pt) and issubclass(pt, Params) and dataclasses.is_dataclass(pt)):
        raise StrategyLoadError(
            spec, f"{cls.__name__}.params_type must be a Params dataclass, got {pt!r}"
        )
    if pt is not Params and not pt.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise StrategyLoadError(spec, f"{pt.__name__} must be @dataclass(frozen=True)")
    try:
        pt()
    except Exception as exc:
        raise StrategyLoadError(
            spec, f"{pt.__name__}() with defaults is invalid: {exc}"
        ) from exc
