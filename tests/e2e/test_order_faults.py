"""Faults the simulator does not make by itself, and the promises that must hold through them: a
request held in the network and delivered after its caller gave up never becomes a second live
order; a kill switch stops every queued order; the queue in front of Kite is bounded; a caller
whose deadline passes while its order is queued leaves nothing behind at Kite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.grpc.mapping import decimal_pb
from kite_gateway.grpc.status import STATUS_DETAILS_KEY
from kite_gateway.paper import log_in_demo_accounts
from kite_gateway.storage.idempotency import FAILED, kite_tag
from kite_simulator import Fault, ThreadedSimulator
from tests.e2e.conftest import (
    Stack,
    eventually,
    market_buy,
    pass_the_quarantine,
    start_stack,
    status_of,
    stop_stack,
)

ACCOUNT = "ZS0001"
TIMEOUT = 0.5  # the gateway's Kite request timeout in these tests


def place(
    stack: Stack, client_order_id: str, params: order_pb2.OrderParams, timeout: float | None = None
) -> Awaitable[order_pb2.PlaceOrderResponse]:
    call: Awaitable[order_pb2.PlaceOrderResponse] = stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=params),
        timeout=timeout,
    )
    return call


def tagged(stack: Stack, client_order_id: str) -> list[dict[str, Any]]:
    tag = kite_tag(ACCOUNT, client_order_id)
    return [o for o in stack.kite_orders() if o["tag"] == tag]


def resting_buy(stack: Stack) -> order_pb2.OrderParams:
    """A limit buy far below the market: it stays open."""
    quote = stack.sim.quote("NSE:INFY")
    price = (quote.last_price * Decimal("0.9") / Decimal("0.05")).to_integral_value() * Decimal("0.05")
    return market_buy(order_type=common_pb2.ORDER_TYPE_LIMIT, product=common_pb2.PRODUCT_MIS, price=decimal_pb(price))


async def unknown_outcome(call: Awaitable[Any]) -> dict[str, str]:
    """The call fails UNAVAILABLE / ORDER_OUTCOME_UNKNOWN with RetryInfo; its ErrorInfo metadata."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "ORDER_OUTCOME_UNKNOWN"), caught.value.details()
    assert retry_delay(caught.value) >= 1
    return metadata


def retry_delay(error: grpc.aio.AioRpcError) -> float:
    raw = dict(error.trailing_metadata() or ()).get(STATUS_DETAILS_KEY)
    assert raw, "no status details"
    for detail in status_pb2.Status.FromString(raw).details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToTimedelta().total_seconds())
    raise AssertionError("no RetryInfo")


@pytest.fixture
async def impatient(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    """A gateway that gives up on Kite after half a second."""
    running = await start_stack(tmp_path, sim, sealing_key, request_timeout=TIMEOUT)
    yield running
    await stop_stack(running)


# Late delivery --------------------------------------------------------------------------------


async def test_a_placement_delivered_to_kite_after_its_timeout_is_one_order_never_two(impatient: Stack) -> None:
    held = impatient.sim.faults.add(Fault("POST", "/orders/*", "hold"))
    await unknown_outcome(place(impatient, "late-1", market_buy()))
    for _ in range(3):  # retries while the request is still stuck: the book is read, nothing is sent
        await unknown_outcome(place(impatient, "late-1", market_buy()))
    assert held.held == 1 and tagged(impatient, "late-1") == []
    held.release()
    await eventually(lambda: held.delivered == 1, "the held request reached Kite")
    reply = await place(impatient, "late-1", market_buy())
    (only,) = tagged(impatient, "late-1")
    assert reply.replayed and reply.order_id == only["order_id"]


async def test_concurrent_retries_during_a_hold_send_nothing_more(impatient: Stack) -> None:
    held = impatient.sim.faults.add(Fault("POST", "/orders/*", "hold", times=2))
    await unknown_outcome(place(impatient, "late-2", market_buy()))
    await asyncio.gather(*(unknown_outcome(place(impatient, "late-2", market_buy())) for _ in range(6)))
    assert held.held == 1 and held.times == 1  # the second hold was never needed: no second request left
    held.release()
    await eventually(lambda: held.delivered == 1, "the held request reached Kite")
    replies = await asyncio.gather(*(place(impatient, "late-2", market_buy()) for _ in range(3)))
    (only,) = tagged(impatient, "late-2")
    assert {r.order_id for r in replies} == {only["order_id"]} and all(r.replayed for r in replies)


async def test_the_quarantine_survives_a_gateway_restart(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    # The gateway stops with an attempt on its way to Kite (sent, outcome never recorded).
    first = await start_stack(tmp_path, sim, sealing_key, request_timeout=TIMEOUT)
    held = sim.faults.add(Fault("POST", "/orders/*", "hold"))
    await unknown_outcome(place(first, "late-3", market_buy()))
    await stop_stack(first)
    second = await start_stack(tmp_path, sim, sealing_key, request_timeout=TIMEOUT)
    try:
        await unknown_outcome(place(second, "late-3", market_buy()))
        assert held.held == 1 and tagged(second, "late-3") == []
        held.release()
        await eventually(lambda: held.delivered == 1, "the held request reached Kite")
        reply = await place(second, "late-3", market_buy())
        (only,) = tagged(second, "late-3")
        assert reply.replayed and reply.order_id == only["order_id"]
    finally:
        await stop_stack(second)


async def test_an_unanswered_order_from_an_earlier_day_is_never_sent_again(impatient: Stack) -> None:
    held = impatient.sim.faults.add(Fault("POST", "/orders/*", "hold"))
    await unknown_outcome(place(impatient, "late-day", market_buy()))
    impatient.sim.advance_clock(24 * 3600)  # the next day: today's order book cannot tell whether it arrived
    await log_in_demo_accounts(impatient.sim, impatient.runtime.accounts)  # yesterday's tokens expired at 06:00
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(impatient, "late-day", market_buy())
    code, reason, _, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ORDER_OUTCOME_UNKNOWN")
    assert "new client_order_id" in (caught.value.details() or "") and held.held == 1
    assert tagged(impatient, "late-day") == []


async def updates_until_duplicate(stack: Stack) -> order_pb2.OrderUpdate:
    stream = stack.orders.StreamOrderUpdates(order_pb2.StreamOrderUpdatesRequest(account_id=ACCOUNT, after_sequence=0))
    try:
        async with asyncio.timeout(15):
            async for event in stream:
                if event.HasField("update") and event.update.HasField("duplicate"):
                    update: order_pb2.OrderUpdate = event.update
                    return update
    finally:
        stream.cancel()
    raise AssertionError("stream ended without a duplicate marker")


async def test_a_request_held_past_the_quarantine_is_cancelled_as_a_duplicate_when_it_arrives(
    impatient: Stack,
) -> None:
    params = resting_buy(impatient)
    held = impatient.sim.faults.add(Fault("POST", "/orders/*", "hold"))
    await unknown_outcome(place(impatient, "late-4", params))
    pass_the_quarantine(impatient)
    resent = await place(impatient, "late-4", params)  # the gateway may now send it again
    assert not resent.replayed
    held.release()  # ...and the first attempt arrives after all
    await eventually(lambda: len(tagged(impatient, "late-4")) == 2, "the late order reached Kite")
    (late,) = [o for o in tagged(impatient, "late-4") if o["order_id"] != resent.order_id]
    await eventually(
        lambda: (
            next(o for o in tagged(impatient, "late-4") if o["order_id"] == late["order_id"])["status"] == "CANCELLED"
        ),
        "the duplicate was cancelled",
    )
    kept = next(o for o in tagged(impatient, "late-4") if o["order_id"] == resent.order_id)
    assert kept["status"] == "OPEN"  # exactly one live order: the one the caller was told of
    update = await updates_until_duplicate(impatient)
    assert update.source == order_pb2.ORDER_UPDATE_SOURCE_GATEWAY
    assert (update.duplicate.client_order_id, update.duplicate.kept_order_id, update.duplicate.duplicate_order_id) == (
        "late-4",
        resent.order_id,
        late["order_id"],
    )
    assert update.duplicate.action == order_pb2.DUPLICATE_ACTION_CANCELLED
    audit = await impatient.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, client_order_id="late-4")
    )
    (event,) = [e for e in audit.events if e.action == order_pb2.AUDIT_ACTION_DUPLICATE_ORDER]
    assert event.order_id == late["order_id"] and event.principal == "gateway"
    # A retry still answers with the order the caller was told of.
    again = await place(impatient, "late-4", params)
    assert again.replayed and again.order_id == resent.order_id


async def test_a_duplicate_that_already_filled_is_reported_not_traded_back(impatient: Stack) -> None:
    held = impatient.sim.faults.add(Fault("POST", "/orders/*", "hold"))
    await unknown_outcome(place(impatient, "late-5", market_buy()))
    pass_the_quarantine(impatient)
    resent = await place(impatient, "late-5", market_buy())
    held.release()
    update = await updates_until_duplicate(impatient)
    assert update.duplicate.action == order_pb2.DUPLICATE_ACTION_ALREADY_FILLED
    assert update.duplicate.kept_order_id == resent.order_id
    assert "does not trade" in update.duplicate.message
    assert sorted(o["status"] for o in tagged(impatient, "late-5")) == ["COMPLETE", "COMPLETE"]


# The queue in front of Kite -------------------------------------------------------------------


@pytest.fixture
async def throttled(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    """Kite lets this account send 2 orders a minute: the rest queue."""
    running = await start_stack(tmp_path, sim, sealing_key, gateway_orders_per_minute=2, gateway_order_queue_depth=20,
                                gateway_order_queue_wait=120)  # fmt: skip
    yield running
    await stop_stack(running)


async def outcome(call: Awaitable[Any]) -> str:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return status_of(error)[1] or error.code().name
    return "OK"


async def test_a_kill_switch_engaged_during_a_queued_burst_stops_every_order_not_yet_sent(throttled: Stack) -> None:
    burst = [asyncio.ensure_future(outcome(place(throttled, f"burst-{i}", market_buy()))) for i in range(12)]
    await eventually(
        lambda: throttled.runtime.dispatch.waiting(ACCOUNT) == 10 and len(throttled.kite_orders()) == 2,
        "the minute's two orders are at Kite and ten wait in the queue",
    )
    await throttled.orders.SetKillSwitch(
        order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=True, reason="runaway strategy")
    )
    outcomes = await asyncio.gather(*burst)
    assert sorted(outcomes) == ["KILL_SWITCH_ACTIVE"] * 10 + ["OK"] * 2
    assert len(throttled.kite_orders()) == 2  # nothing reached Kite after the switch
    # The refused ones were not placed: after release, a retry places each once.
    await throttled.orders.SetKillSwitch(order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=False))
    refused = next(i for i in range(12) if not tagged(throttled, f"burst-{i}"))
    record = await throttled.runtime.idempotency.get(ACCOUNT, f"burst-{refused}")
    assert record is not None and record.state == FAILED and record.sent_at is None


async def test_a_full_queue_refuses_at_once_with_retry_info_and_sends_nothing(throttled: Stack) -> None:
    small = throttled.runtime.dispatch
    small.depth = 3
    first = [await place(throttled, f"q-{i}", market_buy()) for i in range(2)]  # the minute's two orders
    waiting = [asyncio.ensure_future(outcome(place(throttled, f"q-wait-{i}", market_buy()))) for i in range(3)]
    await eventually(lambda: small.waiting(ACCOUNT) == 3, "three orders wait")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(throttled, "q-overflow", market_buy())
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "ORDER_QUEUE_FULL")
    assert retry_delay(caught.value) >= 1 and metadata["queue_depth"] == "3"
    assert tagged(throttled, "q-overflow") == [] and len(first) == 2
    await throttled.orders.SetKillSwitch(
        order_pb2.SetKillSwitchRequest(account_id=ACCOUNT, engaged=True, reason="end of test")
    )
    assert await asyncio.gather(*waiting) == ["KILL_SWITCH_ACTIVE"] * 3


async def test_an_order_that_would_wait_longer_than_allowed_is_refused_before_anything_is_sent(
    throttled: Stack,
) -> None:
    throttled.runtime.dispatch.max_wait = 5.0
    for i in range(2):
        await place(throttled, f"w-{i}", market_buy())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(throttled, "w-late", market_buy())
    code, reason, _, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "ORDER_QUEUE_FULL")
    assert "nothing was sent" in (caught.value.details() or "") and tagged(throttled, "w-late") == []


async def test_a_caller_whose_deadline_passes_while_queued_leaves_nothing_at_kite_and_its_retry_places_it(
    throttled: Stack,
) -> None:
    dispatch = throttled.runtime.dispatch
    for i in range(2):
        await place(throttled, f"d-{i}", market_buy())
    ahead = asyncio.ensure_future(outcome(place(throttled, "d-ahead", market_buy())))  # waits for the next minute
    await eventually(lambda: dispatch.waiting(ACCOUNT) == 1, "an order waits for the next minute")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(throttled, "d-queued", market_buy(), timeout=0.5)  # queued behind it
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    async def abandoned() -> bool:
        record = await throttled.runtime.idempotency.get(ACCOUNT, "d-queued")
        return record is not None and record.state == FAILED and record.sent_at is None

    async with asyncio.timeout(10):
        while not await abandoned():  # noqa: ASYNC110 (a database state, not an event)
            await asyncio.sleep(0.005)
    assert tagged(throttled, "d-queued") == [] and dispatch.waiting(ACCOUNT) == 1
    loop = asyncio.get_running_loop()
    dispatch.clock = lambda: loop.time() + 120  # a minute later: the window has room again
    dispatch.poke()
    assert await ahead == "OK"
    reply = await place(throttled, "d-queued", market_buy())
    assert not reply.replayed and [o["order_id"] for o in tagged(throttled, "d-queued")] == [reply.order_id]


async def test_an_order_whose_turn_would_come_after_its_callers_deadline_is_refused_at_once(throttled: Stack) -> None:
    for i in range(2):
        await place(throttled, f"e-{i}", market_buy())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(throttled, "e-late", market_buy(), timeout=5)
    code, reason, _, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "ORDER_QUEUE_FULL")
    assert tagged(throttled, "e-late") == []
