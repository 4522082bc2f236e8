"""A stopping gateway ends its live streams at once, with UNAVAILABLE (GATEWAY_SHUTTING_DOWN), instead
of holding its shutdown for the whole grace period (streams never finish by themselves): whether the
stream was waiting for its next message or busy sending them; a call in flight still finishes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
from kite_gateway_api.v1 import account_pb2, account_pb2_grpc, common_pb2, market_data_pb2, market_data_pb2_grpc

from kite_gateway.config import Settings
from kite_gateway.grpc.server import Gateway
from tests.e2e.conftest import status_of

GRACE = 30.0  # far longer than any stop below may take


class EndlessStreams(market_data_pb2_grpc.MarketDataServiceServicer):
    """StreamTicks: one heartbeat, then nothing ever (account "quiet") or heartbeats without pause."""

    def __init__(self) -> None:
        self.finished: list[str] = []  # the streams whose servicer side was closed

    async def StreamTicks(
        self, request: market_data_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[market_data_pb2.StreamTicksResponse]:
        try:
            while True:
                yield market_data_pb2.StreamTicksResponse(heartbeat=common_pb2.Heartbeat())
                if request.account_id == "quiet":
                    await asyncio.Event().wait()
                await asyncio.sleep(0)
        finally:
            self.finished.append(request.account_id)


async def read_to_the_end(call: grpc.aio.UnaryStreamCall) -> grpc.aio.AioRpcError:
    """Read a stream as a caller does, until it fails (its error)."""
    try:
        while (await call.read()) is not grpc.aio.EOF:
            pass
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the stream ended without a status")


class SlowAccounts(account_pb2_grpc.AccountServiceServicer):
    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def ListAccounts(
        self, request: account_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.ListAccountsResponse:
        self.started.set()
        await asyncio.sleep(0.5)
        return account_pb2.ListAccountsResponse(accounts=[account_pb2.Account(account_id="AB1234")])


async def test_stopping_ends_live_streams_at_once_with_unavailable_shutting_down_and_lets_calls_finish(
    settings: Settings,
) -> None:
    streams, accounts = EndlessStreams(), SlowAccounts()  # type: ignore[abstract]  # the rest: UNIMPLEMENTED
    gateway = Gateway(
        settings.model_copy(update={"gateway_shutdown_grace": GRACE}),
        servicers={"kite_gateway.v1.MarketDataService": streams, "kite_gateway.v1.AccountService": accounts},
    )
    await gateway.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        market = market_data_pb2_grpc.MarketDataServiceStub(channel)
        calls = {n: market.StreamTicks(market_data_pb2.StreamTicksRequest(account_id=n)) for n in ("quiet", "busy")}
        for call in calls.values():
            assert (await call.read()).WhichOneof("event") == "heartbeat"
        assert len(gateway.live_streams) == 2
        readers = {name: asyncio.create_task(read_to_the_end(call)) for name, call in calls.items()}
        in_flight = asyncio.ensure_future(
            account_pb2_grpc.AccountServiceStub(channel).ListAccounts(account_pb2.ListAccountsRequest())
        )
        await accounts.started.wait()
        began = time.monotonic()
        await gateway.stop()
        took = time.monotonic() - began
        assert [a.account_id for a in (await in_flight).accounts] == ["AB1234"]
        for name, reader in readers.items():
            code, reason, _, _ = status_of(await reader)
            assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "GATEWAY_SHUTTING_DOWN"), name
    assert took < 5.0, f"stopping took {took:.1f}s with a grace of {GRACE}s"
    assert sorted(streams.finished) == ["busy", "quiet"] and len(gateway.live_streams) == 0
