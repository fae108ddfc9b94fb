"""Deterministic synthetic bars for strategy tests, demos and benchmarks, and a scripted venue
(`Venue`) that refuses or partly fills chosen orders of a replayed strategy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ats.sdk.bars import Bar
from ats.sdk.context import Context
from ats.sdk.instrument import Future, Instrument
from ats.sdk.orders import OrderHandle, OrderRequest, OrderStatus
from ats.sdk.params import Params
from ats.sdk.schedule import sessions
from ats.sdk.strategy import Strategy
from ats.sdk.weights import NO_WEIGHTS, Weights


def trading_days(start: str, n: int, calendar: str = "XNYS") -> pd.DatetimeIndex:
    """`n` consecutive session dates from `start` (UTC midnight stamps, like IB daily bars)."""
    cal = sessions(calendar)
    i = int(np.searchsorted(cal.dates.asi8, pd.Timestamp(start).value))
    dates = cal.dates[i : i + n]
    if len(dates) < n:
        raise ValueError(f"calendar {calendar} has only {len(dates)} sessions after {start}")
    return pd.DatetimeIndex(dates).tz_localize("UTC")


def daily_bars(
    closes: Sequence[float] | np.ndarray,
    start: str = "2020-01-02",
    *,
    volume: float | Sequence[float] = 1_000_000.0,
    spread: float = 0.005,
    index: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Daily OHLCV frame from closes: open = previous close, high/low = +-spread around them."""
    c = np.asarray(closes, dtype=float)
    idx = index if index is not None else trading_days(start, len(c))
    o = np.concatenate([[c[0]], c[:-1]])
    hi = np.maximum(o, c) * (1 + spread)
    lo = np.minimum(o, c) * (1 - spread)
    vol = np.broadcast_to(np.asarray(volume, dtype=float), c.shape).copy()
    return pd.DataFrame({"open": o, "high": hi, "low": lo, "close": c, "volume": vol}, index=idx)


def intraday_bars(
    closes: Sequence[float] | np.ndarray,
    day: str = "2024-03-04",
    *,
    minutes: int = 5,
    volume: float | Sequence[float] = 10_000.0,
    spread: float = 0.0005,
) -> pd.DataFrame:
    """Bars of `minutes` from the open of session `day` (continuing into later sessions)."""
    c = np.asarray(closes, dtype=float)
    cal = sessions("XNYS")
    i = int(np.searchsorted(cal.dates.asi8, pd.Timestamp(day).value))
    stamps: list[int] = []
    step = minutes * 60_000_000_000
    while len(stamps) < len(c):
        t, close = int(cal.opens[i]), int(cal.closes[i])
        while t < close and len(stamps) < len(c):
            stamps.append(t)
            t += step
        i += 1
    idx = pd.DatetimeIndex(np.array(stamps, dtype=np.int64), tz="UTC")
    return daily_bars(c, volume=volume, spread=spread, index=idx)


def random_walk(n: int, start: float = 100.0, vol: float = 0.01, seed: int = 0,
                drift: float = 0.0) -> np.ndarray:
    """A seeded geometric random walk of `n` closes."""
    rng = np.random.default_rng(seed)
    out: np.ndarray = start * np.exp(np.cumsum(rng.normal(drift, vol, n)))
    return out


def third_wednesday(year: int, month: int) -> pd.Timestamp:
    first = pd.Timestamp(year=year, month=month, day=1)
    offset = (2 - first.weekday()) % 7
    return first + pd.Timedelta(days=offset + 14)


def monthly_futures(
    symbol: str,
    index: pd.DatetimeIndex,
    spot: Sequence[float] | np.ndarray,
    *,
    slope: float = 0.04,
    multiplier: float | None = None,
) -> dict[Instrument, pd.DataFrame]:
    """Monthly contracts expiring on third Wednesdays, priced spot x (1 + slope x months to
    expiry) (contango for slope > 0), each with bars up to and including its expiry date."""
    s = np.asarray(spot, dtype=float)
    out: dict[Instrument, pd.DataFrame] = {}
    start, end = index[0], index[-1] + pd.Timedelta(days=120)
    for period in pd.period_range(start.strftime("%Y-%m"), end.strftime("%Y-%m"), freq="M"):
        exp = third_wednesday(period.year, period.month)
        inst = Future(symbol, exp.strftime("%Y%m%d"), multiplier=multiplier)
        days = (exp.tz_localize("UTC") - index).days.to_numpy()
        live = (days >= 0) & (days <= 240)
        if not live.any():
            continue
        px = s[live] * (1 + slope * days[live] / 30.0)
        out[inst] = daily_bars(px, index=index[live])
    return out


class Venue:
    """Plays the venue's (or the broker's risk check's) part for chosen orders of a strategy
    replayed with `ats.sdk.backtest.run(venue.strategy(Cls), ...)`: it refuses the first
    `refuse` orders, then fills `fraction` of the next `fill_part` orders at the last price
    and cancels the rest (a DAY order the market only partly took). Orders placed before
    `after`, and with `instrument` (a key) those of other instruments, pass untouched, as
    do all others: the backtest fills them. As live, the news arrives after the strategy's
    current hook returns: a refusal as `on_order_status` (REJECTED), a partial fill as
    `on_fill`, then `on_order_status` (PARTIALLY_FILLED, then CANCELLED)."""

    def __init__(self, *, refuse: int = 0, fill_part: int = 0, fraction: float = 0.5,
                 after: pd.Timestamp | None = None, instrument: str | None = None,
                 reason: str = "refused by risk: max_position exceeded") -> None:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
        self.to_refuse, self.to_fill_part, self.fraction = refuse, fill_part, fraction
        self.after, self.instrument, self.reason = after, instrument, reason
        self.refused: list[OrderHandle] = []  #: orders refused, in submission order
        self.partly_filled: list[OrderHandle] = []  #: orders partly filled, then cancelled
        self.placed: list[tuple[pd.Timestamp, OrderHandle]] = []  #: every order, when placed
        self._news: list[tuple[str, OrderHandle]] = []  #: ("refuse" | "part", order) to send

    def strategy(self, cls: type[Strategy[Any]]) -> type[Strategy[Any]]:
        """`cls` with its orders passing through this venue (also after a restart)."""
        venue = self

        class Scripted(cls):  # type: ignore[valid-type,misc]
            def __init__(self, name: str, params: Params, ctx: Context,
                         weights: Weights = NO_WEIGHTS) -> None:
                routed = ctx if isinstance(ctx, _Routed) else _Routed(ctx, venue)
                super().__init__(name, params, routed, weights)

            def start(self) -> None:
                super().start()
                venue.deliver(self)

            def reconcile(self, book: Mapping[str, float]) -> dict[str, tuple[float, float]]:
                diffs: dict[str, tuple[float, float]] = super().reconcile(book)
                venue.deliver(self)
                return diffs

            def handle_bars(self, bars: Sequence[Bar]) -> None:
                super().handle_bars(bars)
                venue.deliver(self)

        Scripted.__name__ = Scripted.__qualname__ = cls.__name__
        return Scripted

    def routed(self, ctx: Context, h: OrderHandle) -> None:
        self.placed.append((ctx.now(), h))
        if h.status in OrderStatus.DONE:
            return
        if self.after is not None and ctx.now() < self.after:
            return
        if self.instrument is not None and h.request.instrument.key != self.instrument:
            return
        if len(self.refused) < self.to_refuse:
            self.refused.append(h)
            self._news.append(("refuse", h))
        elif len(self.partly_filled) < self.to_fill_part and abs(h.request.quantity) >= 2:
            self.partly_filled.append(h)
            self._news.append(("part", h))

    def deliver(self, strategy: Strategy[Any]) -> None:
        """Send the news of this venue's orders to `strategy` (what its hooks ordered meanwhile
        is scripted and sent in turn)."""
        ctx = strategy.ctx
        assert isinstance(ctx, _Routed)
        while self._news:
            kind, h = self._news.pop(0)
            if kind == "part" and h.status in OrderStatus.ACTIVE:
                qty = float(math.trunc(h.request.quantity * self.fraction)) or math.copysign(
                    1.0, h.request.quantity)
                px = ctx.last_price(h.request.instrument)
                assert px is not None, f"no price to fill {h.request.instrument.key}"
                strategy.handle_fill(ctx.inner.fill(h, qty, px, ctx.now()))
                strategy.handle_order_status(h)
                ctx.cancel(h)
                h.reason = "the rest cancelled: DAY order not filled by the close"
            elif kind == "refuse" and h.status in OrderStatus.ACTIVE:
                ctx.cancel(h)
                h.status, h.reason = OrderStatus.REJECTED, self.reason
            strategy.handle_order_status(h)


class _Routed:
    """A Context passing each new order through a Venue; everything else is the inner one's."""

    def __init__(self, inner: Any, venue: Venue) -> None:
        self.inner = inner  # a BacktestContext: the venue fills through it
        self.venue = venue

    def submit(self, req: OrderRequest) -> OrderHandle:
        h: OrderHandle = self.inner.submit(req)
        self.venue.routed(self, h)
        return h

    def now(self) -> pd.Timestamp:
        t: pd.Timestamp = self.inner.now()
        return t

    def cancel(self, h: OrderHandle) -> None:
        self.inner.cancel(h)

    def modify(self, h: OrderHandle, quantity: float | None = None, limit: float | None = None,
               stop: float | None = None) -> None:
        self.inner.modify(h, quantity, limit, stop)

    def open_orders(self) -> list[OrderHandle]:
        return list(self.inner.open_orders())

    def position(self, inst: Instrument) -> float:
        return float(self.inner.position(inst))

    def positions(self) -> dict[str, float]:
        return dict(self.inner.positions())

    def cash(self) -> float:
        return float(self.inner.cash())

    def equity(self) -> float:
        return float(self.inner.equity())

    def account_equity(self) -> float:
        return float(self.inner.account_equity())

    def last_price(self, inst: Instrument) -> float | None:
        px = self.inner.last_price(inst)
        return None if px is None else float(px)

    def futures_chain(self, symbol: str) -> list[Instrument]:
        return list(self.inner.futures_chain(symbol))
