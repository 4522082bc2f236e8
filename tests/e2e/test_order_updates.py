"""StreamOrderUpdates: every update reaches a subscriber that reconnects (sequence numbers and
resume), across a gateway restart and an upstream outage, each delivered once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from kite_gateway_api.v1 import order_pb2

from kite_simulator import ThreadedSimulator
from tests.e2e.conftest import Stack, market_buy, start_stack, status_of, stop_stack

ACCOUNT = "ZS0001"


def subscribe(stack: Stack, after: int | None = None) -> Any:
    request = order_pb2.StreamOrderUpdatesRequest(account_id=ACCOUNT, heartbeat_interval=Duration(seconds=1))
    if after is not None:
        request.after_sequence = after
    return stack.orders.StreamOrderUpdates(request)


async def read_until(stream: Any, done: Any, within: float = 10.0) -> list[order_pb2.StreamOrderUpdatesResponse]:
    seen: list[order_pb2.StreamOrderUpdatesResponse] = []

    async with asyncio.timeout(within):
        while not done(seen):
            seen.append(await stream.read())
    return seen


def updates(events: list[order_pb2.StreamOrderUpdatesResponse]) -> list[order_pb2.OrderUpdate]:
    return [e.update for e in events if e.WhichOneof("event") == "update"]


def completed(count: int) -> Any:
    return lambda seen: sum(u.order.status == order_pb2.ORDER_STATUS_COMPLETE for u in updates(seen)) >= count


async def place(stack: Stack, client_order_id: str) -> str:
    reply = await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=market_buy())
    )
    return str(reply.order_id)


async def wait_connected(stack: Stack) -> None:
    for _ in range(200):
        if stack.sim.on_loop(lambda s: any(c.session.user_id == ACCOUNT for c in s.ticker.connections)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the gateway's ticker connection never came up")


async def test_updates_arrive_live_with_contiguous_sequences_and_the_client_order_id(stack: Stack) -> None:
    stream = subscribe(stack)
    try:
        await read_until(stream, lambda seen: any(e.WhichOneof("event") == "heartbeat" for e in seen))
        await wait_connected(stack)
        order_id = await place(stack, "live-1")
        seen = updates(await read_until(stream, completed(1)))
    finally:
        stream.cancel()
    assert [u.order.order_id for u in seen] == [order_id] * len(seen)
    assert [u.order.status_raw for u in seen] == ["OPEN", "COMPLETE"]
    assert [u.sequence for u in seen] == list(range(seen[0].sequence, seen[0].sequence + len(seen)))
    assert all(
        u.order.client_order_id == "live-1" and u.source == order_pb2.ORDER_UPDATE_SOURCE_WEBSOCKET for u in seen
    )


async def test_a_subscriber_that_reconnects_gets_every_update_it_missed_then_live(stack: Stack) -> None:
    # Fault: the subscriber disconnects; orders change while it is away.
    first = subscribe(stack)
    await read_until(first, lambda seen: any(e.WhichOneof("event") == "heartbeat" for e in seen))
    await wait_connected(stack)
    await place(stack, "before")
    seen = updates(await read_until(first, completed(1)))
    last = seen[-1].sequence
    first.cancel()
    missed = [await place(stack, f"away-{n}") for n in range(3)]
    await asyncio.sleep(0.3)  # the updates land in the log while nobody listens
    second = subscribe(stack, after=last)
    try:
        events = await read_until(second, lambda s: any(e.WhichOneof("event") == "replay_complete" for e in s))
        replayed = updates(events)
        assert [u.sequence for u in replayed] == list(range(last + 1, last + 1 + len(replayed)))
        assert {u.order.order_id for u in replayed} == set(missed)
        assert events[-1].replay_complete.last_sequence == replayed[-1].sequence
        live_id = await place(stack, "after")
        live = updates(await read_until(second, lambda s: completed(1)(s)))
        assert {u.order.order_id for u in live} == {live_id} and live[0].sequence == replayed[-1].sequence + 1
    finally:
        second.cancel()


async def test_updates_survive_a_gateway_restart_and_resume_by_sequence(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    # Fault: the gateway stops and starts again between the subscriber's reads.
    first = await start_stack(tmp_path, sim, sealing_key)
    stream = subscribe(first)
    await read_until(stream, lambda seen: any(e.WhichOneof("event") == "heartbeat" for e in seen))
    await wait_connected(first)
    order_id = await place(first, "restart-1")
    before = updates(await read_until(stream, completed(1)))
    stream.cancel()
    await stop_stack(first)
    await first.runtime.tick_streams.stop()
    second = await start_stack(tmp_path, sim, sealing_key, login=False)
    try:
        replay = subscribe(second, after=0)
        events = await read_until(replay, lambda s: any(e.WhichOneof("event") == "replay_complete" for e in s))
        replay.cancel()
        assert [(u.sequence, u.order.order_id, u.order.status_raw) for u in updates(events)] == [
            (u.sequence, order_id, u.order.status_raw) for u in before
        ]
    finally:
        await stop_stack(second)


async def test_an_upstream_outage_is_reconciled_and_marked_as_a_gap(stack: Stack) -> None:
    # Fault: the ticker connection drops; an order completes while the gateway cannot hear it.
    stream = subscribe(stack)
    try:
        await read_until(stream, lambda seen: any(e.WhichOneof("event") == "heartbeat" for e in seen))
        await wait_connected(stack)
        assert stack.sim.on_loop(lambda s: s.ticker.drop(ACCOUNT)) == 1
        order_id = await place(stack, "during-outage")
        events = await read_until(stream, lambda s: any(e.WhichOneof("event") == "gap" for e in s) and completed(1)(s))
    finally:
        stream.cancel()
    (gap,) = [e.gap for e in events if e.WhichOneof("event") == "gap"]
    assert (gap.reason, gap.action) == (order_pb2.GAP_REASON_UPSTREAM_DISCONNECTED, order_pb2.GAP_ACTION_RECONCILED)
    assert gap.reconciled_updates == 1 and gap.end_time.ToSeconds() >= gap.start_time.ToSeconds()
    (recovered,) = updates(events)
    assert recovered.order.order_id == order_id and recovered.order.status == order_pb2.ORDER_STATUS_COMPLETE
    assert recovered.source == order_pb2.ORDER_UPDATE_SOURCE_RECONCILIATION


async def test_a_change_reported_by_ticker_and_postback_is_stored_once(stack: Stack) -> None:
    endpoints = stack.runtime.http_endpoints("127.0.0.1", 0)
    await endpoints.start()
    stack.sim.app.postback_url = endpoints.postback_url
    stream = subscribe(stack)
    try:
        await read_until(stream, lambda seen: any(e.WhichOneof("event") == "heartbeat" for e in seen))
        await wait_connected(stack)
        await place(stack, "twice")
        await asyncio.sleep(0.5)  # both the ticker message and the postback have arrived
        newest = await stack.runtime.order_updates.log.newest(ACCOUNT)
        stored = await stack.runtime.order_updates.log.after(ACCOUNT, 0)
        assert stack.sim.on_loop(lambda s: s.postbacks.delivered) >= 1 and newest == len(stored) == 2
        assert [s.order["status"] for s in stored] == ["OPEN", "COMPLETE"]
    finally:
        stream.cancel()
        await endpoints.stop()


async def test_a_postback_without_kites_checksum_is_refused(stack: Stack) -> None:
    import aiohttp

    endpoints = stack.runtime.http_endpoints("127.0.0.1", 0)
    await endpoints.start()
    try:
        forged = {"user_id": ACCOUNT, "order_id": "1", "order_timestamp": "2026-11-24 10:30:00", "checksum": "00"}
        async with aiohttp.ClientSession() as http, http.post(endpoints.postback_url, json=forged) as reply:
            assert reply.status == 403
        assert await stack.runtime.order_updates.log.newest(ACCOUNT) == 0
    finally:
        await endpoints.stop()


async def test_resuming_beyond_the_newest_sequence_is_out_of_range(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await subscribe(stack, after=42).read()
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason, metadata["newest_sequence"]) == (grpc.StatusCode.OUT_OF_RANGE, "SEQUENCE_OUT_OF_RANGE", "0")


async def test_orders_placed_before_the_gateway_watched_the_account_are_recovered_with_a_restart_gap(
    stack: Stack,
) -> None:
    # Fault: an order is placed at Kite directly (another app, or while the gateway was down).
    from kiteconnect import KiteConnect

    api_key, token = stack.sim.session_for(ACCOUNT)
    kite = KiteConnect(api_key, access_token=token, root=stack.sim.api_url)
    elsewhere = await asyncio.to_thread(
        kite.place_order, "regular", "NSE", "INFY", "BUY", 1, "CNC", "MARKET", market_protection=-1
    )
    await stack.sim.advance_async(1)
    stream = subscribe(stack, after=0)  # the gateway's first look at the account
    seen = await read_until(stream, lambda s: any(e.WhichOneof("event") == "gap" for e in s) and completed(1)(s))
    stream.cancel()
    (gap,) = [e.gap for e in seen if e.WhichOneof("event") == "gap"]
    assert gap.reason == order_pb2.GAP_REASON_GATEWAY_RESTARTED and gap.action == order_pb2.GAP_ACTION_RECONCILED
    assert gap.reconciled_updates >= 1
    recovered = [u for u in updates(seen) if u.order.order_id == elsewhere]
    assert recovered and {u.source for u in recovered} == {order_pb2.ORDER_UPDATE_SOURCE_RECONCILIATION}


async def test_resuming_from_a_sequence_the_retention_window_pruned_gets_a_retention_gap_then_the_rest_then_live(
    stack: Stack,
) -> None:
    # Fault: the subscriber comes back after its resume point was pruned (KITE_GATEWAY_RETENTION_ORDER_UPDATES_DAYS).
    from datetime import UTC, datetime, timedelta

    from kite_gateway.storage.retention import ORDER_UPDATES, Retention

    first = subscribe(stack)
    await read_until(first, lambda seen: any(e.WhichOneof("event") == "heartbeat" for e in seen))
    await wait_connected(stack)
    for n in range(2):
        await place(stack, f"old-{n}")
    stored = updates(await read_until(first, completed(2)))
    first.cancel()
    newest = stored[-1].sequence
    later = datetime.now(UTC) + timedelta(days=91)  # 91 days on: all but the account's newest update are pruned
    pruned = await Retention(stack.runtime.database, {ORDER_UPDATES: 90}, now=lambda: later).prune()
    assert pruned == {ORDER_UPDATES: newest - 1}
    second = subscribe(stack, after=1)
    try:
        events = await read_until(second, lambda s: any(e.WhichOneof("event") == "replay_complete" for e in s))
        gap = events[0].gap
        assert events[0].WhichOneof("event") == "gap"
        assert (gap.reason, gap.action) == (order_pb2.GAP_REASON_RETENTION_EXCEEDED, order_pb2.GAP_ACTION_NONE)
        assert gap.oldest_available_sequence == newest and f"updates 2 to {newest - 1}" in gap.message
        assert [u.sequence for u in updates(events)] == [newest]
        assert events[-1].replay_complete.last_sequence == newest
        live_id = await place(stack, "after-pruning")
        live = updates(await read_until(second, completed(1)))
        assert {u.order.order_id for u in live} == {live_id} and live[0].sequence == newest + 1
    finally:
        second.cancel()
