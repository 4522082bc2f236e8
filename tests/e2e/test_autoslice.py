"""Autoslice end to end (OrderParams.autoslice, Kite's `autoslice=true`): the gateway reports Kite's
parent order id and every child, placed or refused with Kite's words; a retry replays them all and
slices nothing again; a lost answer is rebuilt from the book by the gateway's tag, which every child
carries; the children are orders like any other, never duplicates of each other; a quantity below
two slices is refused with Kite's error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import grpc
import pytest
from kite_gateway_api.v1 import common_pb2, errors_pb2, order_pb2

from kite_gateway.storage.idempotency import kite_tag
from kite_simulator import Fault, OrderLimits, ThreadedSimulator
from kite_simulator.universe import SimInstrument
from tests.e2e.conftest import Stack, eventually, market_buy, start_stack, status_of, stop_stack
from tests.simulator.conftest import regular_hours

ACCOUNT = "ZS0001"


def nifty_option(stack: Stack) -> SimInstrument:
    """The cheapest NIFTY call: the demo account can buy several freeze quantities of it."""
    found: SimInstrument = stack.sim.call(
        lambda: min(
            (i for i in stack.sim.sim.universe if i.name == "NIFTY" and i.instrument_type == "CE"),
            key=lambda i: i.base_price,
        )
    )
    return found


def sliced_buy(option: SimInstrument, quantity: int) -> order_pb2.OrderParams:
    return market_buy(symbol=option.symbol, quantity=quantity, product=common_pb2.PRODUCT_NRML,
                      market_protection_auto=True, autoslice=True)  # fmt: skip


def place(stack: Stack, client_order_id: str, params: order_pb2.OrderParams) -> Awaitable[order_pb2.PlaceOrderResponse]:
    call: Awaitable[order_pb2.PlaceOrderResponse] = stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=params)
    )
    return call


def tagged(stack: Stack, client_order_id: str) -> list[dict[str, Any]]:
    tag = kite_tag(ACCOUNT, client_order_id)
    return [o for o in stack.kite_orders() if o["tag"] == tag]


def children_ids(reply: order_pb2.PlaceOrderResponse) -> list[str]:
    return [child.order_id for child in reply.children if child.WhichOneof("outcome") == "order_id"]


async def duplicate_events(stack: Stack, client_order_id: str) -> list[order_pb2.AuditEvent]:
    audit = await stack.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, client_order_id=client_order_id)
    )
    return [e for e in audit.events if e.action == order_pb2.AUDIT_ACTION_DUPLICATE_ORDER]


async def completed_updates(stack: Stack, order_ids: set[str]) -> dict[str, order_pb2.Order]:
    """Read the account's order updates from the start until each of `order_ids` is COMPLETE."""
    seen: dict[str, order_pb2.Order] = {}
    stream = stack.orders.StreamOrderUpdates(order_pb2.StreamOrderUpdatesRequest(account_id=ACCOUNT, after_sequence=0))
    try:
        async with asyncio.timeout(15):
            async for event in stream:
                order = event.update.order
                if event.HasField("update") and order.status == order_pb2.ORDER_STATUS_COMPLETE:
                    seen[order.order_id] = order
                if order_ids <= set(seen):
                    return seen
    finally:
        stream.cancel()
    raise AssertionError("stream ended before every child completed")


async def test_an_order_above_the_freeze_quantity_is_placed_as_kite_children_each_listed_as_an_order(
    stack: Stack,
) -> None:
    option = nifty_option(stack)
    reply = await place(stack, "slice-1", sliced_buy(option, 2 * option.freeze_quantity + 3 * option.lot_size))
    book = {o["order_id"]: o for o in tagged(stack, "slice-1")}
    assert len(reply.children) == 3 and set(children_ids(reply)) == set(book)
    assert [book[i]["quantity"] for i in children_ids(reply)] == [option.freeze_quantity] * 2 + [3 * option.lot_size]
    assert reply.parent_order_id and reply.parent_order_id not in book
    assert reply.order_id == children_ids(reply)[0] and not reply.replayed
    assert all(f"autoslice:{reply.parent_order_id}" in o["tags"] for o in book.values())
    # ListOrders reads the book (and looks for duplicates in it): three orders of one client_order_id.
    listed = await stack.orders.ListOrders(order_pb2.ListOrdersRequest(account_id=ACCOUNT))
    mine = [o for o in listed.orders if o.client_order_id == "slice-1"]
    assert sorted(o.order_id for o in mine) == sorted(book)
    assert all(f"autoslice:{reply.parent_order_id}" in o.tags for o in mine)
    assert await duplicate_events(stack, "slice-1") == []  # siblings are not duplicates of each other
    assert all(o["status"] == "COMPLETE" for o in tagged(stack, "slice-1"))
    updates = await completed_updates(stack, set(book))  # each child is an order in the order updates too
    assert {updates[i].client_order_id for i in book} == {"slice-1"}
    # By client_order_id, the history holds every child's states; a cancellation must name one child.
    target = order_pb2.OrderTarget(client_order_id="slice-1")
    history = await stack.orders.GetOrderHistory(order_pb2.GetOrderHistoryRequest(account_id=ACCOUNT, order=target))
    assert {s.order_id for s in history.states} == set(book)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.CancelOrder(order_pb2.CancelOrderRequest(account_id=ACCOUNT, order=target))
    code, _, _, violations = status_of(caught.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "order.client_order_id"


async def test_a_retry_replays_the_parent_and_every_child_and_slices_nothing_again(stack: Stack) -> None:
    option = nifty_option(stack)
    params = sliced_buy(option, 2 * option.freeze_quantity)
    first = await place(stack, "slice-2", params)
    again = await place(stack, "slice-2", params)
    assert again.replayed and not first.replayed
    assert (again.order_id, again.parent_order_id, list(again.children)) == (
        first.order_id,
        first.parent_order_id,
        list(first.children),
    )
    assert len(tagged(stack, "slice-2")) == 2 == len(stack.kite_orders())


@pytest.fixture
async def two_a_second(tmp_path: Path, sealing_key: bytes) -> AsyncIterator[Stack]:
    """Kite takes two orders a second from this account (its clock is manual: the second never ends)."""
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05, order_limits=OrderLimits(per_second=2)))
    await simulator.start()
    running = await start_stack(tmp_path, simulator, sealing_key)
    yield running
    await stop_stack(running)
    await simulator.stop()


async def test_a_slice_kite_refuses_after_others_were_placed_is_that_childs_failure_in_kites_words(
    two_a_second: Stack,
) -> None:
    stack = two_a_second
    option = nifty_option(stack)
    params = sliced_buy(option, 3 * option.freeze_quantity)
    reply = await place(stack, "slice-3", params)
    placed, refused = reply.children[:2], reply.children[2]
    assert [c.order_id for c in placed] == [o["order_id"] for o in tagged(stack, "slice-3")]
    assert refused.WhichOneof("outcome") == "failure"
    assert refused.failure.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert refused.failure.reason == errors_pb2.ERROR_REASON_KITE_RATE_LIMITED
    assert "orders in a second" in refused.failure.metadata["kite_message"]
    assert refused.failure.metadata["kite_http_status"] == "429" and refused.failure.retry_info.retry_delay.seconds
    again = await place(stack, "slice-3", params)  # the refusal is replayed too, nothing is re-sent
    assert again.replayed and list(again.children) == list(reply.children) and len(stack.kite_orders()) == 2
    audit = await stack.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, client_order_id="slice-3")
    )
    placing = [e for e in audit.events if e.action == order_pb2.AUDIT_ACTION_PLACE_ORDER]
    assert placing and f"parent order {reply.parent_order_id}" in placing[0].outcome
    assert "refused (KITE_RATE_LIMITED" in placing[0].outcome


async def test_a_lost_autoslice_answer_is_reconciled_from_the_book_with_every_child(stack: Stack) -> None:
    option = nifty_option(stack)
    params = sliced_buy(option, 3 * option.freeze_quantity)
    # Kite slices and places the order, then the connection drops before its answer reaches the gateway.
    stack.sim.faults.add(Fault("POST", "/orders/*", "timeout_after_accept", seconds=0.1))
    reply = await place(stack, "slice-4", params)
    book = tagged(stack, "slice-4")
    assert [c.order_id for c in reply.children] == [o["order_id"] for o in book] and len(book) == 3
    assert all(f"autoslice:{reply.parent_order_id}" in o["tags"] for o in book)
    again = await place(stack, "slice-4", params)
    assert again.replayed and list(again.children) == list(reply.children)
    await stack.orders.ListOrders(order_pb2.ListOrdersRequest(account_id=ACCOUNT))
    assert await duplicate_events(stack, "slice-4") == [] and len(stack.kite_orders()) == 3


async def test_an_autoslice_held_in_the_network_is_found_with_every_child_once_it_arrives(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    stack = await start_stack(tmp_path, sim, sealing_key, request_timeout=0.5)
    try:
        option = nifty_option(stack)
        params = sliced_buy(option, 2 * option.freeze_quantity + option.lot_size)
        held = sim.faults.add(Fault("POST", "/orders/*", "hold"))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await place(stack, "slice-5", params)
        assert status_of(caught.value)[1] == "ORDER_OUTCOME_UNKNOWN" and tagged(stack, "slice-5") == []
        held.release()
        await eventually(lambda: held.delivered == 1, "the held request reached Kite")
        reply = await place(stack, "slice-5", params)
        book = tagged(stack, "slice-5")
        assert reply.replayed and [c.order_id for c in reply.children] == [o["order_id"] for o in book]
        assert len(book) == 3 and reply.order_id == book[0]["order_id"]
    finally:
        await stop_stack(stack)


async def test_a_quantity_below_two_slices_is_refused_with_kites_error_and_a_retry_may_try_again(
    stack: Stack,
) -> None:
    option = nifty_option(stack)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "slice-6", sliced_buy(option, option.freeze_quantity))
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "KITE_INPUT_REJECTED")
    assert f"greater than or equal to {2 * option.freeze_quantity} for order slicing" in metadata["kite_message"]
    assert stack.kite_orders() == []
    reply = await place(stack, "slice-6", sliced_buy(option, 2 * option.freeze_quantity))  # nothing existed
    assert not reply.replayed and len(reply.children) == 2


async def test_a_bulk_leg_may_be_autosliced_and_reports_its_children_like_place_order(stack: Stack) -> None:
    option = nifty_option(stack)
    legs = [
        order_pb2.BulkOrderLeg(account_id=ACCOUNT, client_order_id="bulk-sliced",
                               params=sliced_buy(option, 2 * option.freeze_quantity)),
        order_pb2.BulkOrderLeg(account_id=ACCOUNT, client_order_id="bulk-plain", params=market_buy()),
    ]  # fmt: skip
    reply = await stack.orders.PlaceBulkOrders(order_pb2.PlaceBulkOrdersRequest(legs=legs))
    sliced, plain = reply.results
    assert sliced.placed.parent_order_id and children_ids(sliced.placed) == [
        o["order_id"] for o in tagged(stack, "bulk-sliced")
    ]
    assert len(sliced.placed.children) == 2 and plain.placed.order_id and not plain.placed.children
