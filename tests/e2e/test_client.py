"""The Python client against a real gateway: its methods, its errors, retries and a resumable
order-update stream."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from kite_gateway_api.v1 import account_pb2, common_pb2, market_data_pb2, order_pb2
from kite_gateway_client import (
    AsyncGatewayClient,
    GatewayCallError,
    GatewayClient,
    OrderUpdateEvent,
    RetryPolicy,
    from_decimal,
    order_params,
    to_date,
    to_decimal,
)

from kite_simulator import ThreadedSimulator
from tests.conftest import free_port
from tests.e2e.conftest import Stack, market_buy, start_stack, stop_stack


def test_decimals_round_trip_exactly() -> None:
    for text in ("0", "1585.85", "-0.05", "123456789.12345678"):
        assert str(to_decimal(from_decimal(text))) == text


async def test_the_order_stream_resumes_across_a_gateway_restart_without_loss_or_repeats(
    tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes
) -> None:
    address = f"127.0.0.1:{free_port()}"
    stack = await start_stack(tmp_path, sim, sealing_key, gateway_listen=address)
    events: list[OrderUpdateEvent] = []
    async with AsyncGatewayClient(address, retry=RetryPolicy(attempts=50, base_delay=0.05, max_delay=0.2)) as client:
        progressed = asyncio.Event()

        async def follow() -> None:
            async for event in client.order_updates("ZS0001", after_sequence=0):
                events.append(event)
                progressed.set()

        async def until(count: int) -> None:
            complete = order_pb2.ORDER_STATUS_COMPLETE
            async with asyncio.timeout(20):
                while sum(e.update is not None and e.update.order.status == complete for e in events) < count:
                    progressed.clear()
                    await progressed.wait()

        follower = asyncio.create_task(follow())
        try:
            await client.place_order("ZS0001", market_buy(), "before-restart")
            await until(1)
            # Fault: the gateway goes away mid-stream and comes back on the same address.
            await stop_stack(stack)
            stack = await start_stack(tmp_path, sim, sealing_key, gateway_listen=address)
            placed = await client.place_order("ZS0001", market_buy(), "after-restart")
            await until(2)
        finally:
            follower.cancel()
            await stop_stack(stack)
    sequences = [e.update.sequence for e in events if e.update is not None]
    assert sequences == list(range(1, len(sequences) + 1))  # contiguous: nothing lost, nothing twice
    assert placed.order_id in {e.update.order.order_id for e in events if e.update is not None}
    assert client.last_sequence["ZS0001"] == sequences[-1]


async def test_the_clients_methods_work_against_a_paper_gateway(stack: Stack) -> None:
    address = f"127.0.0.1:{stack.gateway.port}"
    async with AsyncGatewayClient(address) as client:
        assert "ZS0001" in {a.account_id for a in (await client.list_accounts()).accounts}
        assert (await client.get_account("ZS0001")).account.paper
        assert (await client.get_profile("ZS0001")).profile.account_id == "ZS0001"
        margins = await client.get_margins("ZS0001", account_pb2.MARGIN_SEGMENT_EQUITY)
        assert to_decimal(margins.equity.net) > 0 and not margins.HasField("commodity")

        (price,) = (await client.get_ltp("ZS0001", ["NSE:INFY"])).prices
        assert (await client.get_quote("ZS0001", ["NSE:INFY"])).quotes[0].symbol == "NSE:INFY"
        assert (await client.get_ohlc("ZS0001", [price.instrument_token])).ohlc[0].symbol == "NSE:INFY"
        assert (await client.get_instruments("ZS0001", ["NSE:INFY"])).instruments[0].lot_size == 1
        now = stack.sim.clock.now()
        candles = await client.get_historical_data(
            "ZS0001", "NSE:INFY", market_data_pb2.CANDLE_INTERVAL_DAY, now - timedelta(days=10), now
        )
        assert candles.candles and all(to_date(c.trading_date) is not None for c in candles.candles)
        first = await client.search_instruments("ZS0001", "nifty", page_size=2)
        second = await client.search_instruments("ZS0001", "nifty", page_size=2, page_token=first.next_page_token)
        assert first.next_page_token and {i.symbol for i in first.instruments}.isdisjoint(
            i.symbol for i in second.instruments
        )

        # An order resting below the market: placed, modified, listed, cancelled.
        resting = to_decimal(price.last_price) - 40
        limit = order_params(
            "NSE:INFY",
            common_pb2.TRANSACTION_TYPE_BUY,
            1,
            order_type=common_pb2.ORDER_TYPE_LIMIT,
            product=common_pb2.PRODUCT_MIS,
            price=resting,
        )
        previews = await client.get_order_margins("ZS0001", [limit])
        assert [m.symbol for m in previews.orders] == ["NSE:INFY"]
        placed = await client.place_order("ZS0001", limit, "client-rest-1")
        await client.modify_order("ZS0001", client_order_id="client-rest-1", price=resting - Decimal("0.5"))
        listed = await client.list_orders("ZS0001", [order_pb2.ORDER_STATUS_OPEN])
        assert [to_decimal(o.price) for o in listed.orders if o.order_id == placed.order_id] == [
            resting - Decimal("0.5")
        ]
        await client.cancel_order("ZS0001", placed.order_id)
        history = await client.get_order_history("ZS0001", placed.order_id)
        assert history.states[-1].status == order_pb2.ORDER_STATUS_CANCELLED
        assert not (await client.list_trades("ZS0001", placed.order_id)).trades

        # Errors come back as the client's own type, with the gateway's details.
        with pytest.raises(GatewayCallError) as caught:
            await client.cancel_order("ZS0001", placed.order_id)
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION and "CANCELLED" in caught.value.message
        with pytest.raises(GatewayCallError) as caught:
            await client.get_order_history("ZS0001", client_order_id="never-placed")
        assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND")
        with pytest.raises(GatewayCallError) as caught:
            await client.modify_order("ZS0001", client_order_id="client-rest-1", price="1.01")
        assert caught.value.field_violations and caught.value.field_violations[0].field == "price"

        assert (await client.get_positions("ZS0001")).net is not None
        assert (await client.get_holdings("ZS0001")).summary is not None
        consolidated = await client.get_consolidated_portfolio(["ZS0001"])
        assert [a.account_id for a in consolidated.accounts] == ["ZS0001"]
        assert not (await client.get_kill_switch("ZS0001")).account.engaged
        audit = await client.list_audit_events("ZS0001", client_order_id="client-rest-1")
        assert audit.events[0].action == order_pb2.AUDIT_ACTION_PLACE_ORDER

        # Bulk legs without a client_order_id get one each (so the call may be retried).
        legs = [order_pb2.BulkOrderLeg(account_id=a, params=market_buy()) for a in ("ZS0001", "ZS0002")]
        bulk = await client.place_bulk_orders(legs)
        assert [r.WhichOneof("outcome") for r in bulk.results] == ["placed", "placed"]
        ids = [r.client_order_id for r in bulk.results]
        assert all(ids) and len(set(ids)) == 2 and not any(leg.client_order_id for leg in legs)

        # A tick stream whose subscription is changed while it runs.
        stream = client.stream_ticks("ZS0001", ["NSE:INFY"])
        started = await anext(stream)
        subscription = started.started.subscription_id
        changed = await client.update_subscription("ZS0001", subscription, add=["NSE:TCS"])
        assert [s.state for s in changed.statuses] == [market_data_pb2.SUBSCRIPTION_STATE_ACCEPTED]
        live = await client.list_subscriptions("ZS0001")
        assert {i.symbol for s in live.subscriptions for i in s.instruments} == {"NSE:INFY", "NSE:TCS"}
        assert {r.symbol for r in client.tick_subscriptions[subscription].request.instruments} == {
            "NSE:INFY",
            "NSE:TCS",
        }
        await stream.aclose()

    def blocking() -> tuple[str, str]:
        with GatewayClient(address) as sync_client:
            profile = sync_client.get_profile("ZS0001")
            tick = next(iter(sync_client.ticks("ZS0001", ["NSE:INFY"])))
            return profile.profile.account_id, tick.symbol

    # The blocking client waits on its own thread: run it off this loop, which serves the gateway.
    assert await asyncio.to_thread(blocking) == ("ZS0001", "NSE:INFY")
