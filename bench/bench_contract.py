"""The order contract's cost: an ApprovalRequest's encode + msgpack + decode round trip.

- baseline: the same fields as a plain dict through msgpack (what the host sent before the
  contract: no checks at all);
- dataclass: ats.orders.contract.ApprovalRequest, ``encode()`` -> msgpack -> ``decode()``
  (every field checked);
- msgspec struct: an equivalent msgspec.Struct (the same checks as constraints) through
  msgspec.msgpack's typed encoder and decoder, bytes straight to the struct;
- msgspec via dict: the same Struct as the bus would carry it (it packs dicts):
  ``to_builtins`` -> msgpack -> ``convert``.

msgspec is measured only when it is installed (``pip install msgspec==0.22.0``); ats does not
depend on it. Each figure is the best of 5 runs, in microseconds per round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgpack

from ats.orders.contract import ApprovalRequest
from bench.figures import Figure, record

N = 50_000
RUNS = 5

REQUEST = ApprovalRequest(
    strategy="bench", con_id=756733, symbol="SPY", sec_type="STK", side="BUY", quantity=1.0,
    order_type="LMT", limit_price=500.25, stop_price=None, tif="DAY", multiplier=1.0,
    ref_price=500.0, client_id=17)


def best_us(fn: Callable[[], object]) -> float:
    """The fastest of RUNS runs of N calls, in microseconds per call."""
    best = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for _ in range(N):
            fn()
        best = min(best, (time.perf_counter() - t0) / N)
    return best * 1e6


def msgspec_round_trips() -> dict[str, Callable[[], object]]:
    """The msgspec round trips, or none when msgspec is not installed."""
    try:
        import msgspec

        from bench._msgspec_approval import Approval
    except ImportError:
        return {}
    struct = msgspec.convert(REQUEST.encode(), Approval)
    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(Approval)
    assert dec.decode(enc.encode(struct)) == struct

    def via_dict() -> Any:
        body = msgpack.packb(msgspec.to_builtins(struct))
        return msgspec.convert(msgpack.unpackb(body), Approval)

    assert via_dict() == struct
    return {"msgspec struct": lambda: dec.decode(enc.encode(struct)),
            "msgspec via dict": via_dict}


def main() -> None:
    plain = {k: v for k, v in REQUEST.encode().items() if k != "v"}
    assert ApprovalRequest.decode(msgpack.unpackb(msgpack.packb(REQUEST.encode()))) == REQUEST
    baseline = best_us(lambda: msgpack.unpackb(msgpack.packb(plain)))
    measured = {"dataclass": best_us(
        lambda: ApprovalRequest.decode(msgpack.unpackb(msgpack.packb(REQUEST.encode()))))}
    others = msgspec_round_trips()
    measured.update({name: best_us(fn) for name, fn in others.items()})
    print(f"ApprovalRequest encode + msgpack + decode, best of {RUNS} x {N:,}:")
    print(f"  {'plain dict (baseline)':<24}{baseline:8.2f} us")
    for name, us in measured.items():
        print(f"  {name:<24}{us:8.2f} us   {us / baseline:5.2f}x the plain dict")
    if not others:
        print("  msgspec not installed: `pip install msgspec==0.22.0` to compare")
    record("contract", [Figure(f"ApprovalRequest round trip, {name}", us, "us", baseline)
                        for name, us in measured.items()])


if __name__ == "__main__":
    main()
