"""The client's tick stream keeps its subscription across reconnects: after a transient failure it
subscribes again with the instruments as changed by update_subscription, and the ids the stream had
before still name it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from kite_gateway_api.v1 import common_pb2, market_data_pb2
from kite_gateway_client import AsyncGatewayClient, RetryPolicy
from kite_gateway_client.market_data import TickSubscription


class FlakyMarket:
    """Streams `started` and one tick batch; the first stream then fails with UNAVAILABLE."""

    def __init__(self) -> None:
        self.subscriptions: list[list[str]] = []  # the instruments of each StreamTicks call
        self.updates: list[market_data_pb2.UpdateSubscriptionRequest] = []
        self.fail_first = asyncio.Event()

    async def stream_ticks(
        self, request: market_data_pb2.StreamTicksRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncIterator[market_data_pb2.StreamTicksResponse]:
        self.subscriptions.append([r.symbol for r in request.instruments])
        number = len(self.subscriptions)
        started = market_data_pb2.SubscriptionStarted(subscription_id=f"sub-{number}")
        yield market_data_pb2.StreamTicksResponse(started=started)
        tick = market_data_pb2.Tick(symbol=request.instruments[0].symbol)
        yield market_data_pb2.StreamTicksResponse(ticks=market_data_pb2.TickBatch(ticks=[tick]))
        if number == 1:
            await self.fail_first.wait()
            await context.abort(grpc.StatusCode.UNAVAILABLE, "upstream restarting")
        await asyncio.Event().wait()  # later streams stay open

    async def update_subscription(
        self, request: market_data_pb2.UpdateSubscriptionRequest, _context: object
    ) -> market_data_pb2.UpdateSubscriptionResponse:
        self.updates.append(request)
        return market_data_pb2.UpdateSubscriptionResponse()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[str, FlakyMarket]]:
    market = FlakyMarket()
    handlers = {
        "StreamTicks": grpc.unary_stream_rpc_method_handler(
            market.stream_ticks,
            request_deserializer=market_data_pb2.StreamTicksRequest.FromString,
            response_serializer=market_data_pb2.StreamTicksResponse.SerializeToString,
        ),
        "UpdateSubscription": grpc.unary_unary_rpc_method_handler(
            market.update_subscription,
            request_deserializer=market_data_pb2.UpdateSubscriptionRequest.FromString,
            response_serializer=market_data_pb2.UpdateSubscriptionResponse.SerializeToString,
        ),
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("kite_gateway.v1.MarketDataService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", market
    await server.stop(0)


async def test_a_reconnected_tick_stream_keeps_the_instruments_added_and_removed_since(
    flaky: tuple[str, FlakyMarket],
) -> None:
    address, market = flaky
    async with AsyncGatewayClient(address, retry=RetryPolicy(base_delay=0.0)) as client:
        stream = client.stream_ticks("ZS0001", ["NSE:INFY", "NSE:SBIN"])
        events = [(await anext(stream)).WhichOneof("event") for _ in range(2)]
        assert events == ["started", "ticks"]
        await client.update_subscription("ZS0001", "sub-1", add=["NSE:TCS"], remove=["NSE:SBIN"])
        market.fail_first.set()
        again = await anext(stream)
        assert again.started.subscription_id == "sub-2"
        assert market.subscriptions == [["NSE:INFY", "NSE:SBIN"], ["NSE:INFY", "NSE:TCS"]]
        await client.update_subscription("ZS0001", "sub-1", remove=["NSE:INFY"])  # the first id still works
        assert [u.subscription_id for u in market.updates] == ["sub-1", "sub-2"]
        await stream.aclose()
        assert client.tick_subscriptions == {}


def test_a_subscription_change_adds_each_instrument_once_and_removes_by_symbol_or_token() -> None:
    refs = [common_pb2.InstrumentRef(symbol="NSE:INFY"), common_pb2.InstrumentRef(instrument_token=408065)]
    state = TickSubscription(market_data_pb2.StreamTicksRequest(instruments=refs))
    state.changed(
        add=[common_pb2.InstrumentRef(symbol="NSE:INFY"), common_pb2.InstrumentRef(symbol="NSE:TCS")], remove=[]
    )
    state.changed(add=[], remove=[common_pb2.InstrumentRef(instrument_token=408065)])
    assert [r.WhichOneof("ref") for r in state.request.instruments] == ["symbol", "symbol"]
    assert [r.symbol for r in state.request.instruments] == ["NSE:INFY", "NSE:TCS"]
