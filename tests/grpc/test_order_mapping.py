"""grpc/order_mapping.py's answer of a placement: an autoslice's parent and every child, a refused
child as the Failure PlaceOrder would have answered for it; an order that was not sliced keeps the
answer it always had."""

from __future__ import annotations

from kite_gateway_api.v1 import errors_pb2

from kite_gateway.core.orders import Placed
from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.order_mapping import placed_pb
from kite_gateway.kite import SliceOutcome

MARGIN = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_INSUFFICIENT_MARGIN, "Kite: Insufficient funds.",
                      {"kite_message": "Insufficient funds.", "kite_error_type": "MarginException"})  # fmt: skip


def test_an_autoslice_answers_its_parent_and_each_child_placed_or_failed_with_kites_words() -> None:
    children = (SliceOutcome(order_id="10"), SliceOutcome(error=MARGIN), SliceOutcome(order_id="12"))
    message = placed_pb(Placed("10", "c-1", True, "9", children))
    assert (message.order_id, message.client_order_id, message.replayed, message.parent_order_id) == (
        "10", "c-1", True, "9",
    )  # fmt: skip
    assert [c.WhichOneof("outcome") for c in message.children] == ["order_id", "failure", "order_id"]
    failure = message.children[1].failure
    assert (failure.code, failure.reason) == (9, errors_pb2.ERROR_REASON_KITE_INSUFFICIENT_MARGIN)
    assert failure.metadata["kite_message"] == "Insufficient funds." and failure.message == MARGIN.message


def test_an_order_not_sliced_has_no_parent_and_no_children() -> None:
    message = placed_pb(Placed("10", "c-1", False))
    assert message.parent_order_id == "" and list(message.children) == [] and message.order_id == "10"
