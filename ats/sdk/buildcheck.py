"""Build a strategy as its host would, in a throwaway process, before it is registered.

`ats-ctl add` runs `check(spec, params)`: a child Python imports the file, validates the
params, constructs the strategy (its `__init__` and `on_init` run) and asks for its
`subscriptions()` (skipped for strategies that need futures chains, which the host loads from
the venue first). A file that raises, hangs or exits is refused with the reason; the manager
itself never imports it. The child writes one JSON line on its stdout; whatever the strategy
prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

TIMEOUT = 30.0  #: seconds a strategy may take to import and build


class BuildError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  #: "INVALID_STRATEGY" or "BAD_PARAMS" (ats.errors.Code)
        self.message = message


def check(spec: str, params: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
    """The validated params of `spec` built with `params`; BuildError if it cannot be built."""
    try:
        proc = subprocess.run([sys.executable, "-m", "ats.sdk.buildcheck"], timeout=timeout,
                              input=json.dumps({"spec": spec, "params": params}),
                              capture_output=True, text=True, cwd=os.getcwd())
    except subprocess.TimeoutExpired:
        raise BuildError("INVALID_STRATEGY", f"{spec}: not built within {timeout:g}s (does it "
                         "block at import or in on_init?)") from None
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if "params" in result:
        return dict(result["params"])
    if "error" in result:
        raise BuildError(str(result["code"]), str(result["error"]))
    tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
    raise BuildError("INVALID_STRATEGY", f"{spec}: the build check died: {tail[0]}")


def _build(spec: str, params: dict[str, Any]) -> dict[str, Any]:
    from ats.sdk.loader import StrategyLoadError, validate
    from ats.sdk.params import ParamError

    try:
        cls, validated = validate(spec, params)
    except StrategyLoadError as exc:
        return {"code": "INVALID_STRATEGY", "error": str(exc)}
    except ParamError as exc:
        return {"code": "BAD_PARAMS", "error": str(exc)}
    try:
        strategy = cls("buildcheck", validated, None)  # type: ignore[arg-type]
        if not strategy.futures_symbols:
            strategy.subscriptions()
    except Exception as exc:
        return {"code": "INVALID_STRATEGY",
                "error": f"{spec}: {cls.__name__} cannot be built: {type(exc).__name__}: {exc}"}
    return {"params": validated.to_mapping()}


def main() -> None:
    request = json.loads(sys.stdin.read())
    out, sys.stdout = sys.stdout, sys.stderr  # the strategy's prints must not reach the result
    result = _build(str(request["spec"]), dict(request.get("params") or {}))
    out.write(json.dumps(result) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
