"""The Python client leaves nothing pending at exit: a program that stops reading a stream (or never
closes the client) exits without "Task was destroyed but it is pending", without "Exception
ignored", and without hanging.

Each scenario runs as its own program, several times, against a stand-in gateway in this process
that streams without end. The programs report any task still pending when an event loop closes: a
task pending then is the one destroyed later, so the check does not wait on the garbage collector.
The warning seen in one run of four came from grpc's call bookkeeping still finishing when the
blocking client stopped its loop; the scenario with a task that takes a few loop turns to finish
reproduces that every time, where the real one depends on grpc's poller thread."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from kite_gateway_api.v1 import market_data_pb2, order_pb2

RUNS = 3

# Imported by every scenario (from a module of its own: functions defined in a program's __main__
# change what is left for finalization at exit): report tasks still pending when a loop closes.
WATCH = """
import asyncio, sys

_close = asyncio.BaseEventLoop.close


def close_reporting(self):
    pending = [t for t in asyncio.all_tasks(self) if not t.done()]
    if pending:
        print(f"Task was destroyed but it is pending (at loop close): {pending}", file=sys.stderr)
    _close(self)


asyncio.BaseEventLoop.close = close_reporting
"""

PREAMBLE = """
import asyncio, gc, sys
import loop_watch
from kite_gateway_client import AsyncGatewayClient, GatewayClient
TARGET = sys.argv[1]
"""

SCENARIOS = {
    "blocking client, loop over ticks left by break": """
with GatewayClient(TARGET) as client:
    for count, tick in enumerate(client.ticks("ZS0001", ["NSE:INFY"])):
        if count == 3:
            break
gc.collect()
""",
    "blocking client closed with a tick stream and an order stream still open": """
client = GatewayClient(TARGET)
ticks = client.ticks("ZS0001", ["NSE:INFY"])
updates = client.stream_order_updates("ZS0001", after_sequence=0)
next(ticks), next(updates)
client.close()
gc.collect()
""",
    "blocking client closed while a task on its loop still takes a few turns to finish": """
# As grpc's own call bookkeeping does after a stream is cancelled: the close must wait for it.
client = GatewayClient(TARGET)
next(client.ticks("ZS0001", ["NSE:INFY"]))
async def bookkeeping():
    try:
        await asyncio.Event().wait()
    finally:
        for _ in range(5):
            await asyncio.sleep(0)
async def start():
    asyncio.get_running_loop().create_task(bookkeeping())
client._loop.run(start())
client.close()
gc.collect()
""",
    "blocking client never closed, its stream open at exit": """
client = GatewayClient(TARGET)
ticks = client.ticks("ZS0001", ["NSE:INFY"])
next(ticks)
""",
    "asyncio client closed with its streams still referenced and open": """
keep = []
async def main():
    async with AsyncGatewayClient(TARGET) as client:
        ticks = client.ticks("ZS0001", ["NSE:INFY"])
        updates = client.order_updates("ZS0001", after_sequence=0)
        keep.extend([ticks, updates])
        await anext(ticks)
        await anext(client.stream_ticks("ZS0001", ["NSE:TCS"]))
asyncio.run(main())
gc.collect()
""",
    "asyncio client closed while another task reads its stream": """
async def main():
    client = AsyncGatewayClient(TARGET)
    first = asyncio.Event()
    async def read():
        async for _ in client.ticks("ZS0001", ["NSE:INFY"]):
            first.set()
        return "ended"
    reader = asyncio.create_task(read())
    await first.wait()
    await client.close()
    assert await reader == "ended"
asyncio.run(main())
gc.collect()
""",
}


def endless_ticks(request: Any, context: grpc.ServicerContext) -> Iterator[market_data_pb2.StreamTicksResponse]:
    started = market_data_pb2.SubscriptionStarted(subscription_id="sub-1")
    yield market_data_pb2.StreamTicksResponse(started=started)
    while context.is_active():
        tick = market_data_pb2.Tick(symbol=request.instruments[0].symbol)
        yield market_data_pb2.StreamTicksResponse(ticks=market_data_pb2.TickBatch(ticks=[tick]))
        time.sleep(0.002)  # the stand-in's pace, not a wait for the test


def endless_updates(request: Any, context: grpc.ServicerContext) -> Iterator[order_pb2.StreamOrderUpdatesResponse]:
    sequence = request.after_sequence
    while context.is_active():
        sequence += 1
        yield order_pb2.StreamOrderUpdatesResponse(update=order_pb2.OrderUpdate(sequence=sequence))
        time.sleep(0.002)


@pytest.fixture(scope="module")
def endless_gateway() -> Iterator[str]:
    """A stand-in with just the two streams, each without end."""
    ticks = grpc.unary_stream_rpc_method_handler(
        endless_ticks,
        request_deserializer=market_data_pb2.StreamTicksRequest.FromString,
        response_serializer=market_data_pb2.StreamTicksResponse.SerializeToString,
    )
    updates = grpc.unary_stream_rpc_method_handler(
        endless_updates,
        request_deserializer=order_pb2.StreamOrderUpdatesRequest.FromString,
        response_serializer=order_pb2.StreamOrderUpdatesResponse.SerializeToString,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler("kite_gateway.v1.MarketDataService", {"StreamTicks": ticks}),
            grpc.method_handlers_generic_handler("kite_gateway.v1.OrderService", {"StreamOrderUpdates": updates}),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_program_using_the_client_exits_cleanly_with_a_stream_open(
    endless_gateway: str, scenario: str, tmp_path: Path
) -> None:
    (tmp_path / "loop_watch.py").write_text(WATCH)
    program = tmp_path / "scenario.py"
    program.write_text(PREAMBLE + SCENARIOS[scenario])
    for run in range(RUNS):
        result = subprocess.run(
            [sys.executable, str(program), endless_gateway],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stderr) == (0, ""), f"run {run + 1}: {result.stderr}"
