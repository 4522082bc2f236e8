"""The Python client's retry policy honours the gateway's RetryInfo (an order whose outcome is
unknown is not asked about again before the gateway says it is worth it)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc.aio import AioRpcError, Metadata
from kite_gateway_client.retry import RetryPolicy, retry_after

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.status import trailing_metadata


def failure(retry_seconds: float | None) -> AioRpcError:
    error = GatewayError(Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN, "unknown", retry_after=retry_seconds)
    return AioRpcError(grpc.StatusCode.UNAVAILABLE, Metadata(), Metadata(*trailing_metadata(error)), "unknown")


def test_the_gateways_retry_info_is_read_from_the_status_details() -> None:
    assert retry_after(failure(3.0)) == 3.0
    assert retry_after(failure(None)) == 0.0


async def test_a_retry_waits_at_least_what_the_gateway_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    calls = 0

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def call() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise failure(2.5)
        return "placed"

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    assert await RetryPolicy(attempts=4, base_delay=0.01, max_delay=5).run(call) == "placed"
    assert waits == [2.5, 2.5]
