"""Changing a live tick subscription: instruments added to a live ticker connection are
subscribed before their mode is set (the simulator, like Kite, does not promise that `mode`
subscribes), they default to the stream's mode, and an unauthenticated caller is one identity
per host, so a second `grpcurl`/`buf curl` (a new connection, a new port) finds its stream."""

from __future__ import annotations

import grpc
from kite_gateway_api.v1 import market_data_pb2, market_data_pb2_grpc

from kite_gateway.auth.principals import anonymous_name
from tests.e2e.conftest import Stack
from tests.e2e.test_streaming import (
    ACCOUNT,
    INFY,
    TCS,
    next_event,
    open_stream,
    refs,
    ticks_until,
    upstream_modes,
)


def token(stack: Stack, symbol: str) -> int:
    return stack.sim.universe.by_symbol[symbol].instrument_token


async def test_an_instrument_added_to_a_live_ticker_connection_is_subscribed_and_ticks(stack: Stack) -> None:
    stream = open_stream(stack, INFY)
    try:
        subscription = (await next_event(stream, "started")).started.subscription_id
        await ticks_until(stream, {INFY})  # the upstream connection is live
        await stack.market.UpdateSubscription(
            market_data_pb2.UpdateSubscriptionRequest(account_id=ACCOUNT, subscription_id=subscription, add=refs(TCS))
        )
        await ticks_until(stream, {TCS})
        assert upstream_modes(stack) == {token(stack, INFY): "quote", token(stack, TCS): "quote"}
    finally:
        stream.cancel()


async def test_an_update_without_a_mode_adds_instruments_in_the_streams_mode_not_quote(stack: Stack) -> None:
    stream = open_stream(stack, INFY, mode=market_data_pb2.TICK_MODE_LTP)
    try:
        subscription = (await next_event(stream, "started")).started.subscription_id
        reply = await stack.market.UpdateSubscription(
            market_data_pb2.UpdateSubscriptionRequest(account_id=ACCOUNT, subscription_id=subscription, add=refs(TCS))
        )
        assert [s.mode for s in reply.statuses] == [market_data_pb2.TICK_MODE_LTP]
        tick = (await ticks_until(stream, {TCS}))[TCS]
        assert tick.mode == market_data_pb2.TICK_MODE_LTP
        assert upstream_modes(stack)[token(stack, TCS)] == "ltp"
    finally:
        stream.cancel()


async def test_without_principals_a_second_connection_from_the_same_host_finds_and_updates_the_stream(
    stack: Stack,
) -> None:
    stream = open_stream(stack, INFY)
    try:
        subscription = (await next_event(stream, "started")).started.subscription_id
        # A connection of its own (grpc would otherwise share the first channel's), as a second process has.
        own_connection = [("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.port}", options=own_connection) as other:
            market = market_data_pb2_grpc.MarketDataServiceStub(other)
            listed = await market.ListSubscriptions(market_data_pb2.ListSubscriptionsRequest(account_id=ACCOUNT))
            assert [s.subscription_id for s in listed.subscriptions] == [subscription]
            assert listed.subscriptions[0].principal == "anonymous@127.0.0.1"
            reply = await market.UpdateSubscription(
                market_data_pb2.UpdateSubscriptionRequest(
                    account_id=ACCOUNT, subscription_id=subscription, add=refs(TCS)
                )
            )
        assert [s.state for s in reply.statuses] == [market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED]
        await ticks_until(stream, {TCS})
    finally:
        stream.cancel()


def test_an_anonymous_callers_name_is_its_host_without_the_port() -> None:
    assert anonymous_name("ipv4:127.0.0.1:50512") == anonymous_name("ipv4:127.0.0.1:50999") == "anonymous@127.0.0.1"
    assert anonymous_name("ipv6:%5B::1%5D:50512") == anonymous_name("ipv6:[::1]:4711") == "anonymous@::1"
    assert anonymous_name("unix:/run/gw.sock") == "anonymous@unix:/run/gw.sock"
