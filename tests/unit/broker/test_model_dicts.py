import json

import msgpack
from broker_testkit import commission, fill, intent

from ats.orders.fills import CommissionReport, Execution
from ats.orders.intent import OrderIntent


def test_execution_round_trips_through_msgpack_and_json() -> None:
    e = fill("BOT", 100, 10.5)
    assert Execution.from_dict(msgpack.unpackb(msgpack.packb(e.to_dict()))) == e
    assert Execution.from_dict(json.loads(json.dumps(e.to_dict()))) == e


def test_commission_and_intent_round_trip() -> None:
    c = commission("a.b.01.01", 1.25)
    assert CommissionReport.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    i = intent("SELL", 5, intent_id=9)
    assert OrderIntent.from_dict(msgpack.unpackb(msgpack.packb(i.to_dict()))) == i
    assert i.order_ref == "ats:alpha:9"
    assert i.signed_quantity == -5
