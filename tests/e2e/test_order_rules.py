"""SEBI's 2026 rules for API orders, as Kite (the simulator) enforces them, end to end: an account's
burst reaches Kite at no more than 10 orders per calendar second of Kite's clock, each placed once;
every order carries its algo ID (its own, its principal's or the gateway's), audited and part of the
idempotency fingerprint; market protection 0 and IOC on MCX are refused before Kite."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.auth import token_digest
from kite_gateway.grpc.mapping import decimal_pb
from kite_gateway.storage.idempotency import kite_tag
from kite_simulator import ThreadedSimulator
from kite_wire import MARKET_PROTECTION_REQUIRED, MCX_IOC_REFUSED
from tests.e2e.conftest import Stack, market_buy, start_stack, status_of, stop_stack
from tests.simulator.conftest import MORNING, regular_hours

ACCOUNT = "ZS0001"


def place(
    stack: Stack, client_order_id: str, params: order_pb2.OrderParams, metadata: tuple[tuple[str, str], ...] = ()
) -> grpc.aio.UnaryUnaryCall[order_pb2.PlaceOrderRequest, order_pb2.PlaceOrderResponse]:
    request = order_pb2.PlaceOrderRequest(account_id=ACCOUNT, client_order_id=client_order_id, params=params)
    return stack.orders.PlaceOrder(request, metadata=metadata)


def algo_ids(stack: Stack) -> dict[str, str | None]:
    """Each order's `algo_id` as Kite (the simulator) received it, by its tag."""
    engine = stack.sim.sim.engine
    return stack.sim.call(lambda: {o.tag or "": o.algo_id for o in engine.accounts[ACCOUNT].orders.values()})


# 10 orders per calendar second ----------------------------------------------------------------


@pytest.fixture
async def running_clock() -> AsyncIterator[ThreadedSimulator]:
    """A simulator whose clock runs in real time from a trading morning, 370 ms into a second, with
    Kite's order caps on: its calendar seconds are not the gateway's."""
    start = MORNING + timedelta(milliseconds=370)
    simulator = ThreadedSimulator(regular_hours(tick_interval=0.05, start=start, clock_runs=True))
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_a_burst_of_25_orders_on_one_account_reaches_kite_at_no_more_than_10_per_calendar_second_each_once(
    tmp_path: Path, running_clock: ThreadedSimulator, sealing_key: bytes
) -> None:
    # The app's own request limiter wide open, so the account's pacing alone keeps Kite's rule.
    stack = await start_stack(tmp_path, running_clock, sealing_key, rate_limit_per_second=1000, burst_limit=1000)
    try:
        replies = await asyncio.gather(*(place(stack, f"burst-{i}", market_buy()) for i in range(25)))
        assert len({reply.order_id for reply in replies}) == 25  # every one placed, none refused with 429
        book = stack.kite_orders()
        tags = Counter(order["tag"] for order in book)
        assert tags == Counter({kite_tag(ACCOUNT, f"burst-{i}"): 1 for i in range(25)})  # each exactly once
        # Kite's record of arrival: the order timestamp, to the second of its clock.
        per_second = Counter(order["order_timestamp"] for order in book)
        assert max(per_second.values()) <= 10 and len(per_second) >= 3
    finally:
        await stop_stack(stack)


# algo_id --------------------------------------------------------------------------------------

TOKENS = {"desk": "tok-desk-1", "plain": "tok-plain-1"}
PRINCIPALS = f"""
[[principal]]
name = "desk"
token_sha256 = "{token_digest(TOKENS["desk"])}"
trade = ["ZS0001"]
algo_id = "DESK-ALGO-9"

[[principal]]
name = "plain"
token_sha256 = "{token_digest(TOKENS["plain"])}"
trade = ["ZS0001"]
"""


def bearer(name: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {TOKENS[name]}"),)


@pytest.fixture
async def with_algo_ids(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    running = await start_stack(
        tmp_path, sim, sealing_key, gateway_auth_principals=PRINCIPALS, gateway_algo_id="GATEWAY-ALGO-1"
    )
    yield running
    await stop_stack(running)


async def test_an_order_or_bulk_leg_carries_its_own_algo_id_else_its_principals_else_the_gateways(
    with_algo_ids: Stack,
) -> None:
    stack = with_algo_ids
    await place(stack, "own", market_buy(algo_id="STRATEGY-3"), bearer("desk"))
    await place(stack, "principal", market_buy(), bearer("desk"))
    await place(stack, "gateway", market_buy(), bearer("plain"))
    sent = algo_ids(stack)
    assert [sent[kite_tag(ACCOUNT, c)] for c in ("own", "principal", "gateway")] == [
        "STRATEGY-3",
        "DESK-ALGO-9",
        "GATEWAY-ALGO-1",
    ]
    legs = [
        order_pb2.BulkOrderLeg(account_id=ACCOUNT, client_order_id=c, params=market_buy()) for c in ("leg-0", "leg-1")
    ]
    legs[1].params.algo_id = "STRATEGY-4"
    bulk = await stack.orders.PlaceBulkOrders(order_pb2.PlaceBulkOrdersRequest(legs=legs), metadata=bearer("desk"))
    assert all(result.WhichOneof("outcome") == "placed" for result in bulk.results)
    sent = algo_ids(stack)
    assert [sent[kite_tag(ACCOUNT, c)] for c in ("leg-0", "leg-1")] == ["DESK-ALGO-9", "STRATEGY-4"]
    audit = await stack.orders.ListAuditEvents(
        order_pb2.ListAuditEventsRequest(account_id=ACCOUNT), metadata=bearer("desk")
    )
    recorded = {e.client_order_id: json.loads(e.request_json)["params"].get("algoId") for e in audit.events}
    assert recorded == {
        "own": "STRATEGY-3", "principal": "DESK-ALGO-9", "gateway": "GATEWAY-ALGO-1", "leg-0": "DESK-ALGO-9",
        "leg-1": "STRATEGY-4",
    }  # fmt: skip


async def test_a_retry_under_another_algo_id_is_another_order_and_already_exists(with_algo_ids: Stack) -> None:
    stack = with_algo_ids
    first = await place(stack, "fp-1", market_buy(), bearer("desk"))
    again = await place(stack, "fp-1", market_buy(algo_id="DESK-ALGO-9"), bearer("desk"))  # the same ID, spelled out
    assert again.replayed and again.order_id == first.order_id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "fp-1", market_buy(), bearer("plain"))  # the gateway's ID: other fields
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert list(algo_ids(stack).values()) == ["DESK-ALGO-9"]


# Refused before Kite --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        market_buy(market_protection_percent=decimal_pb("0")),
        market_buy(
            order_type=common_pb2.ORDER_TYPE_SL_M,
            transaction_type=common_pb2.TRANSACTION_TYPE_SELL,
            trigger_price=decimal_pb("100"),
            market_protection_percent=decimal_pb("0"),
        ),
    ],
    ids=["MARKET", "SL-M"],
)
async def test_market_protection_0_is_refused_before_kite_in_kites_words(
    stack: Stack, params: order_pb2.OrderParams
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "no-protection", params)
    code, reason, _, violations = status_of(caught.value)
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    assert violations[0][0] == "params.market_protection_percent"
    assert MARKET_PROTECTION_REQUIRED in (caught.value.details() or "")
    assert stack.kite_orders() == []


async def test_an_ioc_order_on_mcx_is_refused_before_kite_and_a_day_order_is_placed(stack: Stack) -> None:
    crude = market_buy(
        "MCX:CRUDEOIL26DECFUT", product=common_pb2.PRODUCT_NRML, validity=common_pb2.VALIDITY_IOC,
        market_protection_auto=True,
    )  # fmt: skip
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await place(stack, "mcx-ioc", crude)
    code, _, _, violations = status_of(caught.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0][0] == "params.validity"
    assert MCX_IOC_REFUSED in (caught.value.details() or "") and stack.kite_orders() == []
    crude.validity = common_pb2.VALIDITY_DAY
    assert (await place(stack, "mcx-day", crude)).order_id
