"""Bars and instruments as plain lists and dicts, for the broker's `history` replies
(`ats.broker.history`) and the hosts that read them: pandas only, no ArcticDB."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ats.sdk.instrument import Instrument
from bus.errors import Code, RequestError

#: bars in one reply: 6 columns of 9-byte msgpack numbers stay far under the 1 MiB frame
MAX_ROWS = 10_000
COLUMNS = ("open", "high", "low", "close", "volume")


def instrument_to_wire(inst: Instrument) -> dict[str, Any]:
    return {"symbol": inst.symbol, "sec_type": inst.sec_type, "exchange": inst.exchange,
            "currency": inst.currency, "multiplier": inst.multiplier, "expiry": inst.expiry,
            "primary_exchange": inst.primary_exchange}


def instrument_from_wire(body: Any) -> Instrument:
    if not isinstance(body, dict) or not body.get("symbol"):
        raise RequestError(Code.BAD_PARAMS, "history: instrument needs a symbol")
    expiry, primary = body.get("expiry"), body.get("primary_exchange")
    return Instrument(str(body["symbol"]), body.get("sec_type", "STK"),
                      str(body.get("exchange", "SMART")), str(body.get("currency", "USD")),
                      float(body.get("multiplier", 1.0)),
                      None if expiry is None else str(expiry),
                      None if primary is None else str(primary))


def frame_to_wire(df: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"time": [int(t) for t in pd.DatetimeIndex(df.index).asi8]}
    for col in COLUMNS:
        out[col] = [float(v) for v in df[col].to_numpy()]
    return out


def frame_from_wire(reply: dict[str, Any]) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(reply.get("time", []), unit="ns", utc=True),
                             name="time")
    return pd.DataFrame({col: pd.Series(reply.get(col, []), dtype="float64").to_numpy()
                         for col in COLUMNS}, index=index)
