"""OrderService end to end against the simulator: idempotent placement that never loses or
duplicates an order (faults injected), validation before Kite, Kite's refusals mapped, and the
books, previews, GTTs, bulk placement and audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.type.decimal_pb2 import Decimal as Decimal_pb
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.grpc.mapping import decimal_pb
from kite_gateway.storage.idempotency import kite_tag
from kite_simulator import Fault
from tests.e2e.conftest import Stack, market_buy, pass_the_quarantine, status_of
from tests.simulator.conftest import MORNING

ACCOUNT = "ZS0001"


def place(
    stack: Stack, client_order_id: str, params: order_pb2.OrderParams, account: str = ACCOUNT
) -> Awaitable[order_pb2.PlaceOrderResponse]:
    call: Awaitable[order_pb2.PlaceOrderResponse] = stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=account, client_order_id=client_order_id, params=params)
    )
    return call


def tagged(stack: Stack, client_order_id: str) -> list[dict[str, Any]]:
    tag = kite_tag(ACCOUNT, client_order_id)
    return [o for o in stack.kite_orders() if o["tag"] == tag]


async def test_an_order_is_placed_with_its_client_order_id_as_kites_tag(stack: Stack) -> None:
    reply = await place(stack, "buy-1", market_buy())
    assert reply.order_id and not reply.replayed and reply.client_order_id == "buy-1"
    (kite_order,) = tagged(stack, "buy-1")
    assert kite_order["order_id"] == reply.order_id and kite_order["status"] == "COMPLETE"
    assert kite_order["market_protection"] == -1  # the gateway's default: Kite's automatic protection
    listed = await stack.orders.ListOrders(order_pb2.ListOrdersRequest(account_id=ACCOUNT))
    (order,) = listed.orders
    assert (order.order_id, order.client_order_id, order.status) == (
        reply.order_id,
        "buy-1",
        order_pb2.ORDER_STATUS_COMPLETE,
    )
    assert order.symbol == "NSE:INFY" and order.filled_quantity == 1 and Decimal(order.average_price.value) > 0


async def test_a_retried_placement_returns_the_first_order_and_places_nothing_new(stack: Stack) -> None:
    first = await place(stack, "retry-1", market_buy())
    again = await place(stack, "retry-1", market_buy())
    assert again.order_id == first.order_id and again.replayed
    assert len(tagged(stack, "retry-1")) == 1


async def test_a_retry_writing_the_same_decimal_another_way_is_a_replay_not_another_order(stack: Stack) -> None:
    first = await place(stack, "same-value", market_buy(market_protection_percent=Decimal_pb(value="2.50")))
    again = await place(stack, "same-value", market_buy(market_protection_percent=Decimal_pb(value="2.5")))
    assert again.replayed and again.order_id == first.order_id
    assert len(tagged(stack, "same-value")) == 1


async def test_reusing_a_client_order_id_for_another_order_is_already_exists(stack: Stack) -> None:
    await place(stack, "reuse-1", market_buy())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "reuse-1", market_buy(quantity=2))
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    assert metadata["order_id"] and len(tagged(stack, "reuse-1")) == 1


async def test_a_timeout_after_kite_accepted_is_reconciled_and_never_places_twice(stack: Stack) -> None:
    # Fault: Kite takes the order, then the connection drops before the answer reaches the gateway.
    stack.sim.faults.add(Fault("POST", "/orders/*", "timeout_after_accept", seconds=0.1))
    reply = await place(stack, "lost-answer", market_buy())
    (kite_order,) = tagged(stack, "lost-answer")
    assert reply.order_id == kite_order["order_id"]
    # The caller, unsure, retries as well: still exactly one order.
    again = await place(stack, "lost-answer", market_buy())
    assert again.order_id == reply.order_id and again.replayed
    assert len(tagged(stack, "lost-answer")) == 1


async def test_a_call_that_timed_out_at_the_caller_is_completed_by_its_retry(stack: Stack) -> None:
    # Fault: Kite is slow; the caller gives up first and retries with the same client_order_id.
    stack.sim.faults.add(Fault("POST", "/orders/*", "delay", seconds=1.0))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.PlaceOrder(
            order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id="impatient", params=market_buy()),
            timeout=0.3,
        )
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    retried = await place(stack, "impatient", market_buy())
    assert len(tagged(stack, "impatient")) == 1 and tagged(stack, "impatient")[0]["order_id"] == retried.order_id


async def test_concurrent_calls_with_one_client_order_id_place_one_order(stack: Stack) -> None:
    replies = await asyncio.gather(*(place(stack, "burst-1", market_buy()) for _ in range(8)))
    assert len({r.order_id for r in replies}) == 1 and sum(not r.replayed for r in replies) == 1
    assert len(tagged(stack, "burst-1")) == 1


async def test_a_kite_5xx_on_placement_is_not_sent_again_until_its_quarantine_has_passed(stack: Stack) -> None:
    # Fault: a 503. Kite may or may not have taken the order, and the order book does not show it yet.
    stack.sim.faults.add(Fault("POST", "/orders/*", "error", http_status=503, message="OMS busy"))
    for _ in range(2):  # the first answer, then a retry inside the quarantine: nothing is sent again
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await place(stack, "after-503", market_buy())
        code, reason, metadata, _ = status_of(caught.value)
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "ORDER_OUTCOME_UNKNOWN")
        assert metadata["resend_after"] and tagged(stack, "after-503") == []
    pass_the_quarantine(stack)
    reply = await place(stack, "after-503", market_buy())
    assert not reply.replayed and [o["order_id"] for o in tagged(stack, "after-503")] == [reply.order_id]


async def test_a_placement_refused_by_rate_limit_says_so_and_a_later_retry_places_it(stack: Stack) -> None:
    stack.sim.faults.add(Fault("POST", "/orders/*", "error", http_status=429, message="Too many requests"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "throttled", market_buy())
    code, reason, _, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "KITE_RATE_LIMITED")
    assert tagged(stack, "throttled") == []
    reply = await place(stack, "throttled", market_buy())
    assert not reply.replayed and len(tagged(stack, "throttled")) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (market_buy(quantity=0), "params.quantity"),
        (market_buy(symbol="NSE INFY"), "params.instrument.symbol"),
        (market_buy(order_type=common_pb2.ORDER_TYPE_LIMIT), "params.price"),
        (market_buy(order_type=common_pb2.ORDER_TYPE_LIMIT, price=decimal_pb("1500.03")), "params.price"),
        (market_buy(price=decimal_pb("1500")), "params.price"),
        (market_buy(order_type=common_pb2.ORDER_TYPE_SL_M), "params.trigger_price"),
        (market_buy(product=common_pb2.PRODUCT_NRML), "params.product"),
        (market_buy(validity=common_pb2.VALIDITY_TTL), "params.validity_ttl_minutes"),
        (market_buy(variety=common_pb2.VARIETY_ICEBERG, quantity=30), "params.iceberg_legs"),
        (market_buy(variety=common_pb2.VARIETY_UNSPECIFIED), "params.variety"),
        (market_buy(market_protection_percent=decimal_pb("150")), "params.market_protection_percent"),
    ],
)
async def test_a_malformed_order_is_refused_before_kite_naming_the_field(
    stack: Stack, params: order_pb2.OrderParams, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "bad-1", params)
    code, reason, _, violations = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    assert violations and violations[0][0] == field, violations
    assert stack.kite_orders() == []


async def test_derivative_quantities_must_be_whole_lots(stack: Stack) -> None:
    future = next(i for i in stack.sim.universe if i.tradingsymbol.startswith("NIFTY") and i.instrument_type == "FUT")
    params = market_buy(symbol=future.symbol, quantity=future.lot_size + 1, product=common_pb2.PRODUCT_NRML)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "lots-1", params)
    assert f"not a multiple of the lot size {future.lot_size}" in (caught.value.details() or "")


async def test_an_unknown_instrument_or_account_is_not_found(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "ghost-1", market_buy(symbol="NSE:NOSUCH"))
    assert status_of(caught.value)[:2] == (grpc.StatusCode.NOT_FOUND, "INSTRUMENT_NOT_FOUND")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "ghost-2", market_buy(), account="XX9999")
    assert status_of(caught.value)[:2] == (grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND")


async def test_an_order_while_the_market_is_closed_says_when_it_opens_and_how_to_queue_it(stack: Stack) -> None:
    await stack.sim.advance_async(6 * 3600)  # 16:30: the market is closed
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "closed-1", market_buy())
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "MARKET_CLOSED")
    assert metadata["kite_error_type"] == "InputException" and "Markets are closed" in metadata["kite_message"]
    opens = datetime.fromisoformat(metadata["next_session_opens"])
    assert opens.date() == MORNING.date() + timedelta(days=1) and (opens.hour, opens.minute) == (9, 15)
    assert "VARIETY_AMO" in (caught.value.details() or "") and "opens next at" in (caught.value.details() or "")


async def test_kites_own_refusals_come_back_with_kites_words(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "amo-open", market_buy(variety=common_pb2.VARIETY_AMO))
    code, reason, metadata, _ = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "KITE_INPUT_REJECTED")
    assert (
        metadata["kite_error_type"] == "InputException" and "only when the market is closed" in metadata["kite_message"]
    )


async def test_an_order_kite_rejects_after_accepting_is_placed_then_shows_rejected(stack: Stack) -> None:
    reply = await place(stack, "too-big", market_buy(quantity=5000))
    history = await stack.orders.GetOrderHistory(
        order_pb2.GetOrderHistoryRequest(account_id=ACCOUNT, order=order_pb2.OrderTarget(client_order_id="too-big"))
    )
    assert history.states[-1].status == order_pb2.ORDER_STATUS_REJECTED
    assert history.states[-1].status_message.startswith("Insufficient funds")
    assert history.states[-1].order_id == reply.order_id


async def test_modify_and_cancel_by_client_order_id(stack: Stack) -> None:
    infy = stack.sim.universe.by_symbol["NSE:INFY"]
    price = stack.sim.quote(infy.symbol).last_price - 40
    limit = market_buy(order_type=common_pb2.ORDER_TYPE_LIMIT, product=common_pb2.PRODUCT_MIS, price=decimal_pb(price))
    await place(stack, "rest-1", limit)
    target = order_pb2.OrderTarget(client_order_id="rest-1")
    await stack.orders.ModifyOrder(
        order_pb2.ModifyOrderRequest(account_id=ACCOUNT, order=target, price=decimal_pb(price - Decimal("0.5")))
    )
    await stack.orders.CancelOrder(order_pb2.CancelOrderRequest(account_id=ACCOUNT, order=target))
    (kite_order,) = tagged(stack, "rest-1")
    assert kite_order["status"] == "CANCELLED" and Decimal(str(kite_order["price"])) == price - Decimal("0.5")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.CancelOrder(order_pb2.CancelOrderRequest(account_id=ACCOUNT, order=target))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "already CANCELLED" in caught.value.details()


async def test_modify_checks_the_tick_size_and_needs_something_to_change(stack: Stack) -> None:
    await place(stack, "done-1", market_buy())
    target = order_pb2.OrderTarget(client_order_id="done-1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.ModifyOrder(
            order_pb2.ModifyOrderRequest(account_id=ACCOUNT, order=target, price=decimal_pb("1.01"))
        )
    assert status_of(caught.value)[3][0][0] == "price"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.ModifyOrder(order_pb2.ModifyOrderRequest(account_id=ACCOUNT, order=target))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_unknown_order_is_not_found(stack: Stack) -> None:
    for target in (order_pb2.OrderTarget(order_id="123"), order_pb2.OrderTarget(client_order_id="never")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.orders.GetOrderHistory(order_pb2.GetOrderHistoryRequest(account_id=ACCOUNT, order=target))
        assert status_of(caught.value)[:2] == (grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND")


async def test_trades_all_and_per_order(stack: Stack) -> None:
    first = await place(stack, "t-1", market_buy(quantity=2))
    await place(stack, "t-2", market_buy(quantity=3))
    everything = await stack.orders.ListTrades(order_pb2.ListTradesRequest(account_id=ACCOUNT))
    mine = await stack.orders.ListTrades(
        order_pb2.ListTradesRequest(account_id=ACCOUNT, order=order_pb2.OrderTarget(order_id=first.order_id))
    )
    assert sum(t.quantity for t in everything.trades) == 5
    assert {t.order_id for t in mine.trades} == {first.order_id} and sum(t.quantity for t in mine.trades) == 2


async def test_margin_and_charges_previews(stack: Stack) -> None:
    limit = market_buy(
        order_type=common_pb2.ORDER_TYPE_LIMIT, product=common_pb2.PRODUCT_MIS, price=decimal_pb("1500"), quantity=10
    )
    margins = await stack.orders.GetOrderMargins(order_pb2.GetOrderMarginsRequest(account_id=ACCOUNT, orders=[limit]))
    (one,) = margins.orders
    assert one.symbol == "NSE:INFY" and one.margin.total.value == "3000"
    assert margins.basket_final.total.value == "3000"
    charges = await stack.orders.GetOrderCharges(
        order_pb2.GetOrderChargesRequest(
            account_id=ACCOUNT,
            fills=[
                order_pb2.ChargeableFill(
                    order_id="x1",
                    instrument=limit.instrument,
                    transaction_type=common_pb2.TRANSACTION_TYPE_SELL,
                    product=common_pb2.PRODUCT_CNC,
                    quantity=10,
                    average_price=decimal_pb("1500"),
                )
            ],
        )
    )
    (fill,) = charges.fills
    assert (
        fill.order_id == "x1" and fill.charges.transaction_tax_type == "stt" and Decimal(fill.charges.total.value) > 0
    )


def single_sell_gtt(stack: Stack) -> tuple[Decimal, order_pb2.GttParams]:
    """INFY's last price, and a single GTT selling one share 50 above it."""
    infy = stack.sim.universe.by_symbol["NSE:INFY"]
    price = stack.sim.quote(infy.symbol).last_price
    params = order_pb2.GttParams(
        type=order_pb2.GTT_TYPE_SINGLE,
        instrument=common_pb2.InstrumentRef(symbol="NSE:INFY"),
        last_price=decimal_pb(price),
        trigger_values=[decimal_pb(price + 50)],
        legs=[
            order_pb2.GttLeg(
                transaction_type=common_pb2.TRANSACTION_TYPE_SELL,
                quantity=1,
                product=common_pb2.PRODUCT_CNC,
                price=decimal_pb(price + 50),
            )
        ],
    )
    return price, params


async def test_gtt_place_is_idempotent_and_can_be_listed_modified_and_deleted(stack: Stack) -> None:
    price, params = single_sell_gtt(stack)
    request = order_pb2.PlaceGttRequest(account_id=ACCOUNT, client_order_id="gtt-1", params=params)
    placed = await stack.orders.PlaceGtt(request)
    again = await stack.orders.PlaceGtt(request)
    assert again.gtt_id == placed.gtt_id and again.replayed
    listed = await stack.orders.ListGtts(order_pb2.ListGttsRequest(account_id=ACCOUNT))
    assert [g.gtt_id for g in listed.gtts] == [placed.gtt_id] and listed.gtts[0].status == order_pb2.GTT_STATUS_ACTIVE
    params.trigger_values[0].CopyFrom(decimal_pb(price + 60))
    await stack.orders.ModifyGtt(order_pb2.ModifyGttRequest(account_id=ACCOUNT, gtt_id=placed.gtt_id, params=params))
    got = await stack.orders.GetGtt(order_pb2.GetGttRequest(account_id=ACCOUNT, gtt_id=placed.gtt_id))
    assert got.gtt.params.trigger_values[0] == decimal_pb(price + 60)
    await stack.orders.DeleteGtt(order_pb2.DeleteGttRequest(account_id=ACCOUNT, gtt_id=placed.gtt_id))
    got = await stack.orders.GetGtt(order_pb2.GetGttRequest(account_id=ACCOUNT, gtt_id=placed.gtt_id))
    assert got.gtt.status == order_pb2.GTT_STATUS_DELETED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.orders.GetGtt(order_pb2.GetGttRequest(account_id=ACCOUNT, gtt_id=999))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bulk_placement_reports_each_leg_and_never_aborts_the_others(stack: Stack) -> None:
    legs = [
        order_pb2.BulkOrderLeg(account_id="ZS0001", client_order_id="bulk-a", params=market_buy()),
        order_pb2.BulkOrderLeg(account_id="ZS0002", client_order_id="bulk-a", params=market_buy()),
        order_pb2.BulkOrderLeg(account_id="ZS0002", client_order_id="bulk-b", params=market_buy(quantity=0)),
        order_pb2.BulkOrderLeg(account_id="XX9999", client_order_id="bulk-c", params=market_buy()),
    ]
    reply = await stack.orders.PlaceBulkOrders(order_pb2.PlaceBulkOrdersRequest(legs=legs))
    outcomes = [r.WhichOneof("outcome") for r in reply.results]
    assert outcomes == ["placed", "placed", "failure", "failure"]
    assert reply.results[2].failure.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "legs[2].params.quantity" in reply.results[2].failure.message
    assert reply.results[3].failure.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert len(stack.kite_orders("ZS0001")) == 1 and len(stack.kite_orders("ZS0002")) == 1


async def test_every_order_action_lands_in_the_audit_trail(stack: Stack) -> None:
    await place(stack, "audit-1", market_buy())
    await place(stack, "audit-1", market_buy())
    with pytest.raises(grpc.aio.AioRpcError):
        await place(stack, "audit-2", market_buy(quantity=0))
    first = await stack.orders.ListAuditEvents(order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, page_size=2))
    assert [e.client_order_id for e in first.events] == ["audit-1", "audit-1"] and first.next_page_token
    rest = await stack.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id=ACCOUNT, page_size=2, page_token=first.next_page_token)
    )
    (failed,) = rest.events
    assert failed.status_code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and "quantity" in failed.outcome
    assert first.events[0].action == order_pb2.AUDIT_ACTION_PLACE_ORDER and first.events[0].order_id
    assert '"clientOrderId": "audit-1"' in first.events[0].request_json
