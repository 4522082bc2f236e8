"""The Python client's retry policy honours the gateway's RetryInfo (an order whose outcome is
unknown is not asked about again before the gateway says it is worth it)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc.aio import AioRpcError, Metadata
from kite_gateway_client import GatewayCallError
from kite_gateway_client.retry import RetryPolicy

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.status import trailing_metadata


def failure(retry_seconds: float | None) -> AioRpcError:
    error = GatewayError(Status.UNAVAILABLE, Reason.ORDER_OUTCOME_UNKNOWN, "unknown", retry_after=retry_seconds)
    return AioRpcError(grpc.StatusCode.UNAVAILABLE, Metadata(), Metadata(*trailing_metadata(error)), "unknown")


def test_the_gateways_retry_info_is_read_from_the_status_details() -> None:
    assert GatewayCallError.from_rpc_error(failure(3.0)).retry_delay == 3.0
    assert GatewayCallError.from_rpc_error(failure(None)).retry_delay is None


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


async def test_a_call_still_failing_after_its_retries_raises_the_clients_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_sleep(_seconds: float) -> None:
        return None

    async def call() -> str:
        raise failure(0.5)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    with pytest.raises(GatewayCallError) as caught:
        await RetryPolicy(attempts=3).run(call)
    assert (caught.value.code, caught.value.reason, caught.value.retry_delay) == (
        grpc.StatusCode.UNAVAILABLE,
        "ORDER_OUTCOME_UNKNOWN",
        0.5,
    )


async def test_a_failure_not_worth_retrying_is_raised_at_once() -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise AioRpcError(grpc.StatusCode.FAILED_PRECONDITION, Metadata(), Metadata(), "kill switch")

    with pytest.raises(GatewayCallError):
        await RetryPolicy(attempts=4).run(call)
    assert calls == 1
