"""Indicators updated one value at a time, in O(1) each: for `on_bar`, instead of recomputing
over the window at every bar.

`update(x)` takes the next value (a close, say), oldest first, and returns the indicator
after it; `value` holds the latest (NaN until defined), `count` how many values it took. A
value must be a finite number (taken as a Python float): anything else raises
ValueError and changes nothing.

Each matches its pandas computation (tests/unit/sdk/test_sdk_incremental.py):
`SMA(n)` ~ `s.rolling(n).mean()`, `EMA(span)` ~ `s.ewm(span=span, adjust=False).mean()`,
`RSI(n)` ~ `indicators.rsi` (Wilder's), `RollingStd(n)` ~ `s.rolling(n).std(ddof)`.
The running sums are summed again from the values held once every `n` values, so rounding
does not build up over a long replay.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

_isfinite = math.isfinite
_NAN = math.nan


def _number(name: str, x: float) -> float:
    """`x` as a Python float (a numpy one would turn every later result into numpy's)."""
    y = float(x)
    if not _isfinite(y):
        raise ValueError(f"{name}.update needs a finite number, got {x!r}")
    return y


def _length(name: str, n: int, least: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < least:
        raise ValueError(f"{name} length must be an integer >= {least}, got {n!r}")
    return n


class SMA:
    """Simple moving average of the last `n` values (NaN until `n` were given)."""

    __slots__ = ("_buf", "_i", "_sum", "count", "n", "value")

    def __init__(self, n: int) -> None:
        self.n = _length("SMA", n)
        self._buf = [0.0] * n
        self._i = 0  #: where the next value goes (the oldest held, once full)
        self._sum = 0.0
        self.count = 0
        self.value = _NAN

    def update(self, x: float) -> float:
        if x.__class__ is not float or x - x != 0.0:  # x - x is 0.0 for a finite x only
            x = _number("SMA", x)
        buf, i, n = self._buf, self._i, self.n
        count = self.count = self.count + 1
        total = self._sum + (x - buf[i] if count > n else x)  # the oldest leaves once full
        buf[i] = x
        i += 1
        if i == n:
            i = 0
            total = sum(buf)  # once every n values: no rounding left to build up
        self._i, self._sum = i, total
        if count >= n:
            self.value = total / n
        return self.value

    def extend(self, xs: Iterable[float]) -> float:
        """`update` with each of `xs` in turn; returns the last value."""
        for x in xs:
            self.update(x)
        return self.value


class EMA:
    """Exponential moving average, alpha = 2 / (span + 1), starting at the first value."""

    __slots__ = ("_a", "_keep", "_total", "count", "span", "value")

    def __init__(self, span: int) -> None:
        self.span = _length("EMA", span)
        self._a = 2.0 / (span + 1.0)
        self._keep = 1.0 - self._a
        self._total = self._keep + self._a  # pandas divides by it (not always exactly 1)
        self.count = 0
        self.value = _NAN

    def update(self, x: float) -> float:
        if x.__class__ is not float or x - x != 0.0:
            x = _number("EMA", x)
        if self.count:
            self.value = (self._keep * self.value + self._a * x) / self._total
        else:
            self.value = float(x)
        self.count += 1
        return self.value

    def extend(self, xs: Iterable[float]) -> float:
        for x in xs:
            self.update(x)
        return self.value


class RSI:
    """Wilder's relative strength index over `n` changes (NaN until n+1 values): the first
    average gain and loss are the means of the first n changes, then each is smoothed as
    (previous x (n-1) + this one) / n. 100 when no change lost, 50 when none moved."""

    __slots__ = ("_dn", "_last", "_up", "count", "n", "value")

    def __init__(self, n: int) -> None:
        self.n = _length("RSI", n)
        self._last = _NAN
        self._up = 0.0  #: the average gain (a sum of gains until n changes were seen)
        self._dn = 0.0
        self.count = 0
        self.value = _NAN

    def update(self, x: float) -> float:
        if x.__class__ is not float or x - x != 0.0:
            x = _number("RSI", x)
        n, seen = self.n, self.count  # seen values before this one: `seen` changes with it
        self.count = seen + 1
        if not seen:
            self._last = x
            return self.value
        d = x - self._last
        self._last = x
        up = d if d > 0 else 0.0
        dn = -d if d < 0 else 0.0
        if seen < n:
            self._up += up
            self._dn += dn
            return self.value
        if seen == n:
            self._up = (self._up + up) / n
            self._dn = (self._dn + dn) / n
        else:
            self._up = (self._up * (n - 1) + up) / n
            self._dn = (self._dn * (n - 1) + dn) / n
        if self._dn == 0:
            self.value = 100.0 if self._up > 0 else 50.0
        else:
            self.value = 100.0 - 100.0 / (1.0 + self._up / self._dn)
        return self.value

    def extend(self, xs: Iterable[float]) -> float:
        for x in xs:
            self.update(x)
        return self.value


class RollingStd:
    """Standard deviation of the last `n` values (NaN until n were given), with `ddof`
    (1: the sample's, as pandas; 0: the population's). Sums are of each value less the first
    one given, which keeps them small for prices far from zero."""

    __slots__ = ("_buf", "_i", "_s1", "_s2", "_shift", "count", "ddof", "n", "value")

    def __init__(self, n: int, ddof: int = 1) -> None:
        if ddof not in (0, 1):
            raise ValueError(f"RollingStd ddof must be 0 or 1, got {ddof!r}")
        self.n = _length("RollingStd", n, least=ddof + 1)
        self.ddof = ddof
        self._buf = [0.0] * n  #: values less `_shift`
        self._i = 0
        self._s1 = self._s2 = 0.0
        self._shift = _NAN
        self.count = 0
        self.value = _NAN

    def update(self, x: float) -> float:
        if x.__class__ is not float or x - x != 0.0:
            x = _number("RollingStd", x)
        if not self.count:
            self._shift = float(x)
        y = x - self._shift
        buf, i, n = self._buf, self._i, self.n
        if self.count >= n:
            old = buf[i]
            self._s1 += y - old
            self._s2 += y * y - old * old
        else:
            self._s1 += y
            self._s2 += y * y
        buf[i] = y
        self.count += 1
        i += 1
        if i == n:
            i = 0
            self._s1 = sum(buf)
            self._s2 = sum(v * v for v in buf)
        self._i = i
        if self.count >= n:
            var = (self._s2 - self._s1 * self._s1 / n) / (n - self.ddof)
            self.value = math.sqrt(var) if var > 0 else 0.0
        return self.value

    def extend(self, xs: Iterable[float]) -> float:
        for x in xs:
            self.update(x)
        return self.value
