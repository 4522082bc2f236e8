"""The duplicate-order event as the API shows it: its actions and audit action by the API's
numbers, and its marker with exactly the fields of kite_gateway.v1.DuplicateOrder."""

from __future__ import annotations

from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.orders.duplicates import (
    AUDIT_ACTION_DUPLICATE_ORDER,
    DuplicateAction,
    DuplicateFound,
    gateway_tag,
)


def test_duplicate_actions_are_the_apis_by_name_and_number() -> None:
    assert {f"DUPLICATE_ACTION_{a.name}": int(a) for a in DuplicateAction} == dict(order_pb2.DuplicateAction.items())


def test_the_audit_action_of_a_duplicate_is_the_apis() -> None:
    assert AUDIT_ACTION_DUPLICATE_ORDER == order_pb2.AUDIT_ACTION_DUPLICATE_ORDER


def test_the_marker_builds_the_apis_duplicate_message() -> None:
    event = DuplicateFound("c-1", "111", "222", DuplicateAction.CANCELLED, "cancelled it")
    message = order_pb2.DuplicateOrder(**event.marker())
    assert (message.client_order_id, message.kept_order_id, message.duplicate_order_id) == ("c-1", "111", "222")
    assert message.action == order_pb2.DUPLICATE_ACTION_CANCELLED and message.message == "cancelled it"


def test_only_the_gateways_own_tags_mark_an_order_as_its() -> None:
    assert gateway_tag({"tag": "kgabc"}) == "kgabc"
    assert gateway_tag({"tag": "mine", "tags": ["other", "kgxyz"]}) == "kgxyz"
    assert gateway_tag({"tag": "mine", "tags": None}) is None
