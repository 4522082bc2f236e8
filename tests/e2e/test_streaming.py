"""StreamTicks end to end: one upstream per account fanned out to many subscribers, subscriptions
reference-counted upstream, changes while streaming, heartbeats, and recovery from an upstream drop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import common_pb2, market_data_pb2

from kite_gateway.grpc.mapping import from_decimal_pb
from tests.e2e.conftest import Stack

ACCOUNT = "ZS0001"
INFY, NIFTY, TCS = "NSE:INFY", "NSE:NIFTY 50", "NSE:TCS"


def refs(*symbols: str) -> list[common_pb2.InstrumentRef]:
    return [common_pb2.InstrumentRef(symbol=s) for s in symbols]


def open_stream(stack: Stack, *symbols: str, mode: Any = market_data_pb2.TICK_MODE_QUOTE, heartbeat: int = 1) -> Any:
    return stack.market.StreamTicks(
        market_data_pb2.StreamTicksRequest(
            account_id=ACCOUNT, instruments=refs(*symbols), mode=mode, heartbeat_interval=Duration(seconds=heartbeat)
        )
    )


async def next_event(stream: Any, kind: str, within: float = 10.0) -> market_data_pb2.StreamTicksResponse:
    async with asyncio.timeout(within):
        while True:
            message: market_data_pb2.StreamTicksResponse = await stream.read()
            if message.WhichOneof("event") == kind:
                return message


async def ticks_until(stream: Any, wanted: set[str], within: float = 10.0) -> dict[str, market_data_pb2.Tick]:
    seen: dict[str, market_data_pb2.Tick] = {}

    async with asyncio.timeout(within):
        while not wanted <= set(seen):
            message = await stream.read()
            if message.WhichOneof("event") == "ticks":
                seen.update({t.symbol: t for t in message.ticks.ticks})
    return seen


def upstream_modes(stack: Stack) -> dict[int, str]:
    """What the simulator's ticker holds for the account's connections."""
    modes: dict[int, str] = {}
    for connection_modes in stack.sim.on_loop(lambda s: [dict(c.modes) for c in s.ticker.connections]):
        modes.update(connection_modes)
    return modes


@pytest.fixture
async def stream(stack: Stack) -> AsyncIterator[Any]:
    call = open_stream(stack, INFY, NIFTY, "NSE:NOSUCH", mode=market_data_pb2.TICK_MODE_FULL)
    yield call
    call.cancel()


async def test_a_stream_starts_with_a_status_per_instrument_then_carries_exact_ticks(stack: Stack, stream: Any) -> None:
    started = (await next_event(stream, "started")).started
    assert started.subscription_id
    assert [(s.symbol, s.state) for s in started.statuses] == [
        (INFY, market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED),
        (NIFTY, market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED),
        ("", market_data_pb2.SUBSCRIPTION_STATE_UNKNOWN_INSTRUMENT),
    ]
    ticks = await ticks_until(stream, {INFY, NIFTY})
    infy = ticks[INFY]
    quote = stack.sim.quote(INFY)
    assert infy.mode == market_data_pb2.TICK_MODE_FULL and infy.tradable
    assert from_decimal_pb(infy.last_price, "") == quote.last_price
    assert (
        from_decimal_pb(infy.depth.buy[0].price, "") == quote.bids[0].price
        and infy.depth.buy[0].quantity == quote.bids[0].quantity
    )
    assert from_decimal_pb(infy.change, "") == quote.last_price - quote.close
    assert not ticks[NIFTY].tradable and ticks[NIFTY].HasField("ohlc")


async def test_subscriptions_are_reference_counted_upstream_in_the_richest_mode(stack: Stack) -> None:
    infy_token = stack.sim.universe.by_symbol[INFY].instrument_token
    tcs_token = stack.sim.universe.by_symbol[TCS].instrument_token
    first = open_stream(stack, INFY, mode=market_data_pb2.TICK_MODE_LTP)
    second = open_stream(stack, INFY, TCS, mode=market_data_pb2.TICK_MODE_FULL)
    try:
        await next_event(first, "started")
        await next_event(second, "started")
        await ticks_until(second, {INFY, TCS})
        assert upstream_modes(stack) == {infy_token: "full", tcs_token: "full"}
        ltp_only = await ticks_until(first, {INFY})
        assert ltp_only[INFY].mode == market_data_pb2.TICK_MODE_LTP and not ltp_only[INFY].HasField("depth")
        second.cancel()
        for _ in range(100):
            if upstream_modes(stack) == {infy_token: "ltp"}:
                break
            await asyncio.sleep(0.05)
        assert upstream_modes(stack) == {infy_token: "ltp"}  # TCS released, INFY downgraded
    finally:
        first.cancel()
        second.cancel()
    for _ in range(100):
        if not upstream_modes(stack):
            break
        await asyncio.sleep(0.05)
    assert upstream_modes(stack) == {}  # the last subscriber left


async def test_instruments_are_added_and_removed_while_streaming(stack: Stack, stream: Any) -> None:
    subscription = (await next_event(stream, "started")).started.subscription_id
    reply = await stack.market.UpdateSubscription(
        market_data_pb2.UpdateSubscriptionRequest(
            account_id=ACCOUNT, subscription_id=subscription, add=refs(TCS), remove=refs(NIFTY, "NSE:RELIANCE")
        )
    )
    assert [(s.symbol, s.state) for s in reply.statuses] == [
        (TCS, market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED),
        (NIFTY, market_data_pb2.SUBSCRIPTION_STATE_REMOVED),
        ("", market_data_pb2.SUBSCRIPTION_STATE_NOT_SUBSCRIBED),
    ]
    changed = (await next_event(stream, "changed")).changed
    assert list(changed.statuses) == list(reply.statuses)
    await ticks_until(stream, {TCS})
    listed = await stack.market.ListSubscriptions(market_data_pb2.ListSubscriptionsRequest(account_id=ACCOUNT))
    (mine,) = listed.subscriptions
    assert mine.subscription_id == subscription and {i.symbol for i in mine.instruments} == {INFY, TCS}
    assert listed.upstream[0].state == common_pb2.UPSTREAM_STATE_CONNECTED and listed.upstream[0].full_instruments == 2


async def test_updating_a_subscription_that_ended_is_not_found(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.market.UpdateSubscription(
            market_data_pb2.UpdateSubscriptionRequest(account_id=ACCOUNT, subscription_id="ZS0001-999", add=refs(TCS))
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_quiet_market_still_sends_heartbeats(stack: Stack, stream: Any) -> None:
    await ticks_until(stream, {INFY, NIFTY})  # the clock stands still: nothing changes after the first ticks
    beat = (await next_event(stream, "heartbeat", within=5)).heartbeat
    assert beat.upstream_state == common_pb2.UPSTREAM_STATE_CONNECTED and beat.server_time.seconds > 0


async def test_an_upstream_drop_is_announced_and_recovered_from(stack: Stack, stream: Any) -> None:
    await ticks_until(stream, {INFY, NIFTY})
    assert stack.sim.on_loop(lambda s: s.ticker.drop(ACCOUNT)) == 1
    down = (await next_event(stream, "upstream_status")).upstream_status
    assert down.state == common_pb2.UPSTREAM_STATE_RECONNECTING
    up = (await next_event(stream, "upstream_status")).upstream_status
    assert up.state == common_pb2.UPSTREAM_STATE_CONNECTED
    await stack.sim.advance_async(30)  # the market moves: ticks flow again on the new connection
    moved = stack.sim.quote(INFY).last_price
    async with asyncio.timeout(10):  # the resubscription's first tick may still carry the old price
        while from_decimal_pb((await ticks_until(stream, {INFY}))[INFY].last_price, "") != moved:
            pass


async def test_a_bad_heartbeat_interval_or_account_fails_at_once(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await open_stream(stack, INFY, heartbeat=0).read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = stack.market.StreamTicks(market_data_pb2.StreamTicksRequest(account_id="XX9999", instruments=refs(INFY)))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await bad.read()
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_subscriber_that_stops_reading_is_conflated_and_told_so_while_others_keep_up(stack: Stack) -> None:
    symbols = [i.symbol for i in stack.sim.universe if i.tradable][:3000]
    slow = open_stream(stack, *symbols, mode=market_data_pb2.TICK_MODE_FULL)
    await next_event(slow, "started")
    await ticks_until(slow, set(symbols[:10]))  # the first ticks are through before the fast one joins
    fast = open_stream(stack, *symbols[:10], mode=market_data_pb2.TICK_MODE_FULL)  # no resubscription upstream
    await next_event(fast, "started")
    listed = market_data_pb2.ListSubscriptionsResponse()
    for _ in range(60):  # the slow one reads nothing while the market moves
        await stack.sim.advance_async(5)
        await ticks_until(fast, set(symbols[:10]))
        listed = await stack.market.ListSubscriptions(market_data_pb2.ListSubscriptionsRequest(account_id=ACCOUNT))
        if any(s.conflated_ticks for s in listed.subscriptions):
            break
    by_size = {len(s.instruments): s for s in listed.subscriptions}
    assert by_size[3000].conflated_ticks > 0 and by_size[10].conflated_ticks == 0
    told = 0
    async with asyncio.timeout(30):
        while not told:
            message = await slow.read()
            if message.WhichOneof("event") == "ticks":
                told = message.ticks.conflated_ticks
    assert told > 0
    slow.cancel()
    fast.cancel()


async def test_more_than_3000_instruments_shard_onto_a_second_connection(stack: Stack) -> None:
    symbols = [i.symbol for i in stack.sim.universe]
    assert len(symbols) > 3000
    call = stack.market.StreamTicks(
        market_data_pb2.StreamTicksRequest(
            account_id=ACCOUNT, instruments=refs(*symbols[:3000]), mode=market_data_pb2.TICK_MODE_LTP
        )
    )
    try:
        subscription = (await next_event(call, "started")).started.subscription_id
        more = await stack.market.UpdateSubscription(
            market_data_pb2.UpdateSubscriptionRequest(
                account_id=ACCOUNT, subscription_id=subscription, add=refs(*symbols[3000:])
            )
        )
        assert {s.state for s in more.statuses} == {market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED}
        await ticks_until(call, set(symbols[3000:]), within=20)
        listed = await stack.market.ListSubscriptions(market_data_pb2.ListSubscriptionsRequest(account_id=ACCOUNT))
        assert [c.ltp_instruments + c.quote_instruments + c.full_instruments for c in listed.upstream] == [
            3000,
            len(symbols) - 3000,
        ]
        assert sorted(stack.sim.on_loop(lambda s: [len(c.modes) for c in s.ticker.connections])) == sorted(
            [3000, len(symbols) - 3000]
        )
    finally:
        call.cancel()


async def test_the_ticker_connection_shows_in_health(stack: Stack, stream: Any) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from kite_gateway.grpc.account_health import publish_once

    await ticks_until(stream, {INFY})
    await publish_once(stack.gateway.health, stack.runtime.health_sources(), set())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.gateway.port}") as channel:
        check = health_pb2.HealthCheckRequest(service="ticker/ZS0001")
        assert (await health_pb2_grpc.HealthStub(channel).Check(check)).status == health_pb2.HealthCheckResponse.SERVING


async def test_a_feed_silent_while_the_market_is_open_is_flagged_stale(
    tmp_path: Any, sim: Any, sealing_key: bytes
) -> None:
    from tests.e2e.conftest import start_stack, stop_stack

    quick = await start_stack(tmp_path, sim, sealing_key, gateway_stale_after=1.0)
    call = open_stream(quick, INFY)
    try:
        await ticks_until(call, {INFY})  # then the simulator's clock stands still: no new ticks
        stale = (await next_event(call, "upstream_status")).upstream_status
        assert stale.state == common_pb2.UPSTREAM_STATE_STALE and "while NSE is open" in stale.message
        await sim.advance_async(5)
        fresh = (await next_event(call, "upstream_status")).upstream_status
        assert fresh.state == common_pb2.UPSTREAM_STATE_CONNECTED
    finally:
        call.cancel()
        await stop_stack(quick)
