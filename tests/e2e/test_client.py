"""The Python client against a real gateway: retries and a resumable order-update stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kite_gateway_api.v1 import order_pb2
from kite_gateway_client import AsyncGatewayClient, OrderUpdateEvent, RetryPolicy, from_decimal, to_decimal

from kite_simulator import ThreadedSimulator
from tests.conftest import free_port
from tests.e2e.conftest import market_buy, start_stack, stop_stack


def test_decimals_round_trip_exactly() -> None:
    for text in ("0", "1585.85", "-0.05", "123456789.12345678"):
        assert str(to_decimal(from_decimal(text))) == text


async def test_the_order_stream_resumes_across_a_gateway_restart_without_loss_or_repeats(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    address = f"127.0.0.1:{free_port()}"
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_listen=address)
    events: list[OrderUpdateEvent] = []
    async with AsyncGatewayClient(address, retry=RetryPolicy(attempts=50, base_delay=0.05, max_delay=0.2)) as client:
        progressed = asyncio.Event()

        async def follow() -> None:
            async for event in client.order_updates("ZS0001", after_sequence=0):
                events.append(event)
                progressed.set()

        async def until(count: int) -> None:
            complete = order_pb2.ORDER_STATUS_COMPLETE
            async with asyncio.timeout(20):
                while sum(e.update is not None and e.update.order.status == complete for e in events) < count:
                    progressed.clear()
                    await progressed.wait()

        follower = asyncio.create_task(follow())
        try:
            await client.place_order("ZS0001", market_buy(), "before-restart")
            await until(1)
            # Fault: the gateway goes away mid-stream and comes back on the same address.
            await stop_stack(stack)
            stack = await start_stack(tmp_path, sim, sealing_key, gateway_listen=address)
            placed = await client.place_order("ZS0001", market_buy(), "after-restart")
            await until(2)
        finally:
            follower.cancel()
            await stop_stack(stack)
    sequences = [e.update.sequence for e in events if e.update is not None]
    assert sequences == list(range(1, len(sequences) + 1))  # contiguous: nothing lost, nothing twice
    assert placed.order_id in {e.update.order.order_id for e in events if e.update is not None}
    assert client.last_sequence["ZS0001"] == sequences[-1]
