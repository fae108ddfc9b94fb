"""One table of IB's order statuses: every documented status has a phase, and the host's and
the broker's views of a status agree on whether the order is done."""

from __future__ import annotations

import pytest

from ats.broker.intents import DONE_STATUSES, IntentStatus, intent_status
from ats.broker.order_store import DONE_ORDER_STATUSES
from ats.host.orders import HANDLE_STATUS
from ats.ib import status as ib_status
from ats.sdk.orders import OrderStatus

#: the statuses IB documents for orderStatus / openOrder
DOCUMENTED = ("ApiPending", "PendingSubmit", "PendingCancel", "PreSubmitted", "Submitted",
              "ApiCancelled", "Cancelled", "Filled", "Inactive")


@pytest.mark.parametrize("status", DOCUMENTED)
def test_every_documented_status_has_one_phase_and_both_sides_agree_it_is_done_or_not(
        status: str) -> None:
    phase = ib_status.phase(status)
    assert phase is not None
    done = status in ib_status.DONE
    assert (intent_status(status) in DONE_STATUSES) == done
    assert (HANDLE_STATUS[phase] in OrderStatus.DONE) == done
    assert (status in DONE_ORDER_STATUSES) == done


def test_a_status_ib_does_not_document_is_no_phase_and_a_working_intent() -> None:
    assert ib_status.phase("Unknown") is None
    assert intent_status("Unknown") is IntentStatus.SUBMITTED
