"""Kite's answer to an autoslice order as the adapter reads it: the parent order id and each child,
placed or refused, a refused child mapped as the same error raised by Kite would be."""

from __future__ import annotations

from typing import Any

import pytest

from kite_gateway.errors import Reason, Status
from kite_gateway.kite.autoslice import autosliced, slice_parent
from kite_gateway.kite.errors import KiteOutcomeUnknown
from tests.kite.test_orders import ARGS, FakeClient, adapter
from tests.support.kite_calls import InProcessCalls

# kiteconnect-mocks autoslice_response.json (../shared/kite-reference), its `data`.
REFERENCE: dict[str, Any] = {
    "order_id": "1914227164488687616",
    "children": [
        {"order_id": "1914227164534824960"},
        {"order_id": "1914227164580962304"},
        {"error": {"code": 400, "error_type": "MarginException",
                   "message": "Insufficient funds. Required margin is 228365.92 but available margin is 228358.50.",
                   "data": None}},
        {"order_id": "1914227164681625600"},
    ],
}  # fmt: skip


@pytest.fixture
def calls() -> InProcessCalls:
    return InProcessCalls()


def test_kites_reference_answer_is_the_parent_and_each_child_placed_or_refused_in_kites_words() -> None:
    answer = autosliced(REFERENCE, "AB1234")
    assert answer.parent_order_id == "1914227164488687616"
    assert [c.order_id for c in answer.children] == [
        "1914227164534824960", "1914227164580962304", "", "1914227164681625600",
    ]  # fmt: skip
    refused = answer.children[2].error
    assert refused is not None and answer.children[2].order_id == ""
    assert (refused.code, refused.reason) == (Status.FAILED_PRECONDITION, Reason.KITE_INSUFFICIENT_MARGIN)
    assert refused.metadata["kite_message"].startswith("Insufficient funds. Required margin is 228365.92")
    assert refused.metadata["kite_error_type"] == "MarginException" and refused.metadata["kite_http_status"] == "400"
    assert refused.message.startswith("Kite: Insufficient funds")


def test_a_child_refused_with_429_is_rate_limited_with_a_retry_delay() -> None:
    error = {"code": 429, "error_type": "NetworkException", "message": "Too many orders", "data": None}
    data = {"order_id": "1", "children": [{"order_id": "2"}, {"error": error}]}
    refused = autosliced(data, "AB1234").children[1].error
    assert refused is not None and refused.reason == Reason.KITE_RATE_LIMITED and refused.retry_after


@pytest.mark.parametrize("data", [None, {}, {"order_id": "1"}, {"children": []}, {"order_id": "1", "children": {}}])
def test_a_success_without_a_parent_and_children_is_an_unknown_outcome_not_a_refusal(data: object) -> None:
    with pytest.raises(KiteOutcomeUnknown):
        autosliced(data, "AB1234")


def test_the_parent_is_read_from_kites_autoslice_tag() -> None:
    assert slice_parent({"tags": ["kgabc", "autoslice", "autoslice:1953367517640548352"]}) == "1953367517640548352"
    assert slice_parent({"tags": ["autoslice"]}) is None and slice_parent({"tags": None}) is None


async def test_placing_with_autoslice_calls_the_official_client_with_the_tag_and_reads_its_data(
    calls: InProcessCalls,
) -> None:
    client = FakeClient({"place_autoslice_order": REFERENCE})
    kite, limits, _ = adapter(calls, client)
    answer = await kite.place_autoslice_now(ARGS, "kgtag")
    assert client.calls == [("place_autoslice_order", (), {**ARGS, "tag": "kgtag"})]
    assert answer.parent_order_id == REFERENCE["order_id"] and len(answer.children) == 4
    assert limits.classes == []  # the dispatch queue took the room with acquire_order_room
