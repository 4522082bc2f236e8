"""A postback with a valid checksum is still only Kite's claim about an order: the gateway reads
the order from Kite's book and stores what the book says, never the postback's own fields."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.grpc.mapping import decimal_pb
from kite_gateway.http.endpoints import HttpEndpoints
from kite_wire.checksums import postback_checksum
from tests.e2e.conftest import Stack, market_buy

ACCOUNT = "ZS0001"
POSTBACK = order_pb2.ORDER_UPDATE_SOURCE_POSTBACK


@pytest.fixture
async def endpoints(stack: Stack) -> AsyncIterator[HttpEndpoints]:
    http = stack.runtime.http_endpoints("127.0.0.1", 0)
    http.postbacks.reread_after = 0.0
    await http.start()
    yield http
    await http.stop()


async def place(stack: Stack, client_order_id: str, params: order_pb2.OrderParams, account: str = ACCOUNT) -> str:
    reply = await stack.orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(account_id=account, client_order_id=client_order_id, params=params)
    )
    return str(reply.order_id)


def resting_buy(stack: Stack) -> order_pb2.OrderParams:
    """A limit buy far below the market: it stays OPEN."""
    infy = stack.sim.universe.by_symbol["NSE:INFY"]
    price = stack.sim.quote(infy.symbol).last_price * Decimal("0.97") // infy.tick_size * infy.tick_size
    return market_buy(order_type=common_pb2.ORDER_TYPE_LIMIT, product=common_pb2.PRODUCT_MIS, price=decimal_pb(price))


def signed(stack: Stack, user_id: str, order_id: str, account_of_order: str, **claims: Any) -> dict[str, Any]:
    """A postback Kite could have sent (valid checksum under the app's secret), claiming `claims`."""
    order = next(o for o in stack.kite_orders(account_of_order) if o["order_id"] == order_id)
    body = {**order, **claims, "user_id": user_id, "app_id": stack.sim.app.app_id, "unfilled_quantity": 0}
    body["checksum"] = postback_checksum(order_id, order["order_timestamp"], stack.sim.app.api_secret)
    return body


async def post(endpoints: HttpEndpoints, body: dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as http, http.post(endpoints.postback_url, json=body) as reply:
        status = reply.status
    await endpoints.postbacks.settled()
    return status


async def stored(stack: Stack, account: str = ACCOUNT) -> list[dict[str, Any]]:
    return [u.order for u in await stack.runtime.order_updates.log.after(account, 0)]


async def test_a_signed_postback_claiming_a_fill_the_book_does_not_show_never_stores_that_fill(
    stack: Stack, endpoints: HttpEndpoints
) -> None:
    order_id = await place(stack, "resting", resting_buy(stack))
    claim = signed(stack, ACCOUNT, order_id, ACCOUNT, status="COMPLETE", filled_quantity=1, pending_quantity=0)
    assert await post(endpoints, claim) == 200
    updates = [u for u in await stored(stack) if u["order_id"] == order_id]
    assert [u["status"] for u in updates] == ["OPEN"]  # the book's state, read because of the postback
    assert updates[0]["filled_quantity"] == 0
    assert stack.kite_orders()[0]["status"] == "OPEN"


async def test_a_replayed_postback_of_an_older_state_stores_the_orders_current_state(
    stack: Stack, endpoints: HttpEndpoints
) -> None:
    order_id = await place(stack, "done", market_buy())
    assert next(o for o in stack.kite_orders() if o["order_id"] == order_id)["status"] == "COMPLETE"
    stale = signed(stack, ACCOUNT, order_id, ACCOUNT, status="UPDATE", filled_quantity=0, pending_quantity=1)
    assert await post(endpoints, stale) == 200
    log = await stack.runtime.order_updates.log.after(ACCOUNT, 0)
    from_postback = [(u.order["status"], u.order["filled_quantity"]) for u in log if u.source == POSTBACK]
    assert set(from_postback) <= {("COMPLETE", 1)}  # as the book has it (if the ticker did not store it first)
    assert all(u.order["status"] != "UPDATE" for u in log)


async def test_a_signed_postback_naming_another_accounts_order_is_not_stored(
    stack: Stack, endpoints: HttpEndpoints
) -> None:
    # Both demo accounts are on one app, so the checksum (order id, timestamp, app secret) is valid.
    theirs = await place(stack, "theirs", market_buy(), account="ZS0002")
    claim = signed(stack, ACCOUNT, theirs, "ZS0002")
    assert await post(endpoints, claim) == 503
    assert await stored(stack, ACCOUNT) == []
