"""The order-update enums keep the numbers stored with each update, and each has its namesake in
the API (the servicer maps them by name)."""

from __future__ import annotations

from enum import IntEnum

import pytest
from kite_gateway_api.v1 import order_pb2

from kite_gateway.core.order_updates import GapAction, GapReason, UpdateSource


@pytest.mark.parametrize(
    ("enum", "api", "prefix"),
    [
        (UpdateSource, order_pb2.OrderUpdateSource, "ORDER_UPDATE_SOURCE_"),
        (GapReason, order_pb2.GapReason, "GAP_REASON_"),
        (GapAction, order_pb2.GapAction, "GAP_ACTION_"),
    ],
)
def test_every_member_has_the_api_value_of_its_name(enum: type[IntEnum], api: object, prefix: str) -> None:
    for member in enum:
        assert api.Value(prefix + member.name) == member.value, member  # type: ignore[attr-defined]


def test_the_stored_source_numbers_are_unchanged() -> None:
    assert [int(s) for s in UpdateSource] == [0, 1, 2, 3, 4]
    assert [s.name for s in UpdateSource] == ["UNSPECIFIED", "WEBSOCKET", "POSTBACK", "RECONCILIATION", "GATEWAY"]


def test_a_stored_source_this_version_does_not_know_reads_as_unspecified() -> None:
    assert UpdateSource.of(3) is UpdateSource.RECONCILIATION
    assert UpdateSource.of(42) is UpdateSource.UNSPECIFIED
