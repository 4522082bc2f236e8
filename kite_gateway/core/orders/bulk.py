"""Bulk placement: up to MAX_BULK_LEGS orders across accounts in one call, each placed on its own
(as PlaceOrder would place it) and reported on its own: placed, or the failure that stopped it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from kite_gateway.core.orders.requests import LegResult, Placed
from kite_gateway.errors import GatewayError, invalid

MAX_BULK_LEGS = 500
Leg = tuple[str, str]  # (account_id, client_order_id)


def check_legs(legs: Sequence[Leg]) -> None:
    """INVALID_ARGUMENT for too few or too many legs, or a client_order_id twice on one account."""
    if not 1 <= len(legs) <= MAX_BULK_LEGS:
        raise invalid("legs", f"1 to {MAX_BULK_LEGS} legs")
    seen: set[Leg] = set()
    for i, (account_id, client_order_id) in enumerate(legs):
        if (account_id, client_order_id) in seen:
            raise invalid(f"legs[{i}].client_order_id", f"{client_order_id!r} appears twice for {account_id}")
        seen.add((account_id, client_order_id))


async def place_legs(legs: Sequence[Leg], place: Callable[[int], Awaitable[Placed]]) -> list[LegResult]:
    """Place every leg at once (`place(i)` places leg i); the results in the legs' order. A leg's
    GatewayError is its result; it does not stop the others."""

    async def one(i: int, leg: Leg) -> LegResult:
        try:
            return LegResult(*leg, placed=await place(i))
        except GatewayError as exc:
            return LegResult(*leg, failure=exc)

    return list(await asyncio.gather(*(one(i, leg) for i, leg in enumerate(legs))))
