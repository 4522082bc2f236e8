"""Tick subscriptions on three replicas as processes (real PostgreSQL, NATS and the Kite simulator):
a stream held by one replica is changed and listed through every other one, with the replicas'
addresses read from the cluster's table; when its replica is killed (SIGKILL), changing it is
UNAVAILABLE while that replica is still announced and NOT_FOUND, saying the stream ended with its
replica, once its announcement has run out, and listing answers again without it; never INTERNAL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc

from kite_gateway.grpc.forwarding_subscriptions import holder_of
from tests.cluster.conftest import LEASE_TTL
from tests.support.cluster import Cluster

ACCOUNT = "ZS0001"
INFY, TCS, RELIANCE = "NSE:INFY", "NSE:TCS", "NSE:RELIANCE"
# A killed replica's announcement outlives it by at most a lease time; then a round to notice.
GONE_BOUND = LEASE_TTL * 2 + 5.0


def refs(*symbols: str) -> list[common_pb2.InstrumentRef]:
    return [common_pb2.InstrumentRef(symbol=s) for s in symbols]


def update(subscription_id: str, *add: str) -> market_data_pb2.UpdateSubscriptionRequest:
    return market_data_pb2.UpdateSubscriptionRequest(
        account_id=ACCOUNT, subscription_id=subscription_id, add=refs(*add)
    )


LIST = market_data_pb2.ListSubscriptionsRequest(account_id=ACCOUNT)


async def next_event(stream: Any, kind: str, within: float = 15.0) -> market_data_pb2.StreamTicksResponse:
    async with asyncio.timeout(within):
        while True:
            message: market_data_pb2.StreamTicksResponse = await stream.read()
            if message.WhichOneof("event") == kind:
                return message


async def retried(call: Any, seconds: float = 30.0) -> Any:
    """A call retried while UNAVAILABLE (a replica still joining the cluster), as the client's policy does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_stream_on_one_replica_is_changed_and_listed_through_the_others_and_ends_with_its_replica(
    cluster: Cluster,  # the fixture imported above
) -> None:
    channels = [grpc.aio.insecure_channel(r.address) for r in cluster.replicas]
    stubs = [market_data_pb2_grpc.MarketDataServiceStub(c) for c in channels]
    holder, other, third = stubs
    streams: list[Any] = []
    try:
        for stub in (holder, other):
            request = market_data_pb2.StreamTicksRequest(
                account_id=ACCOUNT, instruments=refs(INFY), heartbeat_interval=Duration(seconds=1)
            )
            streams.append(stub.StreamTicks(request))
        held_id = (await next_event(streams[0], "started")).started.subscription_id
        other_id = (await next_event(streams[1], "started")).started.subscription_id
        assert [holder_of(i) and holder_of(i)[0] for i in (held_id, other_id)] == ["r0", "r1"]  # type: ignore[index]

        for stub, symbol in ((other, TCS), (third, RELIANCE)):  # through each replica that does not hold it
            reply = await retried(lambda stub=stub, symbol=symbol: stub.UpdateSubscription(update(held_id, symbol)))
            assert [s.state for s in reply.statuses] == [market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED]
            changed = (await next_event(streams[0], "changed")).changed
            assert [s.symbol for s in changed.statuses] == [symbol]

        for stub in stubs:
            listing = await retried(lambda stub=stub: stub.ListSubscriptions(LIST))
            instruments = {s.subscription_id: {i.symbol for i in s.instruments} for s in listing.subscriptions}
            assert instruments == {held_id: {INFY, TCS, RELIANCE}, other_id: {INFY}}

        await asyncio.to_thread(cluster.replicas[0].kill)
        killed_at = time.monotonic()
        codes: list[grpc.StatusCode] = []
        while True:
            try:
                await other.UpdateSubscription(update(held_id, INFY), timeout=5)
                raise AssertionError("a subscription of a killed replica was changed")
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
                if exc.code() is grpc.StatusCode.NOT_FOUND:
                    assert "ended with its replica r0" in (exc.details() or ""), exc.details()
                    break
                assert exc.code() is grpc.StatusCode.UNAVAILABLE, (exc.code(), exc.details())
            assert time.monotonic() - killed_at < GONE_BOUND, f"r0 still counted after {GONE_BOUND}s: {codes}"
            await asyncio.sleep(0.2)

        listing = await retried(lambda: third.ListSubscriptions(LIST, timeout=5), seconds=GONE_BOUND)
        assert [s.subscription_id for s in listing.subscriptions] == [other_id]
    finally:
        for stream in streams:
            stream.cancel()
        for channel in channels:
            await channel.close()
