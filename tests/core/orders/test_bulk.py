"""Bulk placement as a unit: the legs' bounds, and one result per leg in the legs' order, a
failing leg stopping none of the others."""

from __future__ import annotations

import asyncio

import pytest

from kite_gateway.core.orders.bulk import MAX_BULK_LEGS, check_legs, place_legs
from kite_gateway.core.orders.requests import Placed
from kite_gateway.errors import GatewayError, Reason, Status


def test_a_bulk_request_has_one_to_the_most_legs() -> None:
    for legs in ([], [("AB1234", f"c{i}") for i in range(MAX_BULK_LEGS + 1)]):
        with pytest.raises(GatewayError) as caught:
            check_legs(legs)
        assert caught.value.field_violations[0][0] == "legs"
    check_legs([("AB1234", f"c{i}") for i in range(MAX_BULK_LEGS)])


def test_a_client_order_id_twice_on_one_account_names_the_second_leg() -> None:
    with pytest.raises(GatewayError) as caught:
        check_legs([("AB1234", "a"), ("CD5678", "a"), ("AB1234", "b"), ("AB1234", "a")])
    assert caught.value.field_violations[0][0] == "legs[3].client_order_id"


async def test_each_leg_has_its_own_result_in_order_and_a_failure_stops_no_other_leg() -> None:
    legs = [("AB1234", "a"), ("AB1234", "b"), ("CD5678", "c")]
    refused = GatewayError(Status.FAILED_PRECONDITION, Reason.RISK_LIMIT_BREACHED, "too big")

    done = [asyncio.Event() for _ in legs]
    finished: list[int] = []

    async def place(i: int) -> Placed:
        if i + 1 < len(legs):
            await done[i + 1].wait()  # the legs finish in reverse order
        finished.append(i)
        done[i].set()
        if i == 1:
            raise refused
        return Placed(f"order-{i}", legs[i][1], replayed=False)

    results = await place_legs(legs, place)
    assert [(r.account_id, r.client_order_id) for r in results] == legs
    assert results[0].placed == Placed("order-0", "a", False) and results[0].failure is None
    assert results[1].placed is None and results[1].failure is refused
    assert results[2].placed == Placed("order-2", "c", False)
    assert finished == [2, 1, 0]


async def test_an_unexpected_error_in_a_leg_is_not_reported_as_a_leg_failure() -> None:
    async def place(i: int) -> Placed:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await place_legs([("AB1234", "a")], place)
