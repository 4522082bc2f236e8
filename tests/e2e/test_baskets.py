"""PlaceBasket against the paper gateway: the margin preview read first, hedge-first sending, a
basket Kite cannot afford refused whole, a failing leg unwinding the legs before it (or, best
effort, leaving them), and a basket id that never places twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from kite_gateway_api.v1 import common_pb2, order_pb2

from kite_gateway.grpc.mapping import from_decimal_pb
from kite_simulator import Fault, ThreadedSimulator
from tests.e2e.conftest import Stack, eventually, market_buy, start_stack, status_of, stop_stack

ACCOUNT = "ZS0001"
UNWIND = order_pb2.BASKET_FAILURE_POLICY_UNWIND
BEST_EFFORT = order_pb2.BASKET_FAILURE_POLICY_BEST_EFFORT


def leg(client_order_id: str, symbol: str, quantity: int, side: str, product: Any = common_pb2.PRODUCT_MIS,
        ) -> order_pb2.BasketLeg:  # fmt: skip
    params = market_buy(symbol, quantity, product=product)
    params.transaction_type = common_pb2.TRANSACTION_TYPE_BUY if side == "BUY" else common_pb2.TRANSACTION_TYPE_SELL
    return order_pb2.BasketLeg(client_order_id=client_order_id, params=params)


def basket(basket_id: str, *legs: order_pb2.BasketLeg, policy: Any = UNWIND, **fields: Any,
           ) -> order_pb2.PlaceBasketRequest:  # fmt: skip
    return order_pb2.PlaceBasketRequest(account_id=ACCOUNT, basket_id=basket_id, legs=legs, failure_policy=policy,
                                        **fields)  # fmt: skip


def orders_of(stack: Stack, tradingsymbol: str) -> list[dict[str, Any]]:
    return [o for o in stack.kite_orders(ACCOUNT) if o["tradingsymbol"] == tradingsymbol]


def net_filled(stack: Stack, tradingsymbol: str, product: str = "MIS") -> int:
    return sum(
        int(o["filled_quantity"]) * (1 if o["transaction_type"] == "BUY" else -1)
        for o in orders_of(stack, tradingsymbol)
        if o["product"] == product
    )


# A CNC sell of far more than the account holds: Kite accepts it, then its RMS rejects it.
UNSELLABLE = ("NSE:TCS", 100_000)


async def test_a_basket_whose_second_leg_kite_rejects_unwinds_the_filled_first_leg_to_flat(stack: Stack) -> None:
    symbol, quantity = UNSELLABLE
    request = basket(
        "b-unwind",
        leg("b-unwind-sell", symbol, quantity, "SELL", common_pb2.PRODUCT_CNC),  # listed first, sent second
        leg("b-unwind-buy", "NSE:INFY", 5, "BUY"),
    )
    answer = await stack.orders.PlaceBasket(request)
    sell, buy = answer.legs
    assert answer.unwound
    assert (buy.sequence, sell.sequence) == (0, 1), "hedge first: the BUY leg goes before the SELL leg"
    assert sell.status == order_pb2.BASKET_LEG_STATUS_FAILED
    assert "Insufficient holdings" in sell.failure.message
    assert buy.status == order_pb2.BASKET_LEG_STATUS_UNWOUND
    assert buy.filled_quantity == 5 and buy.unwind_order_id
    assert net_filled(stack, "INFY") == 0, "the unwind closed what the first leg bought"
    exit_order = next(o for o in orders_of(stack, "INFY") if o["order_id"] == buy.unwind_order_id)
    assert (exit_order["transaction_type"], exit_order["quantity"]) == ("SELL", 5)


async def test_a_best_effort_basket_keeps_the_legs_that_were_placed_when_another_fails(stack: Stack) -> None:
    symbol, quantity = UNSELLABLE
    answer = await stack.orders.PlaceBasket(basket(
        "b-best", leg("b-best-buy", "NSE:INFY", 3, "BUY"), leg("b-best-sell", symbol, quantity, "SELL",
                                                               common_pb2.PRODUCT_CNC), policy=BEST_EFFORT,
    ))  # fmt: skip
    buy, sell = answer.legs
    assert not answer.unwound
    assert buy.status == order_pb2.BASKET_LEG_STATUS_PLACED and buy.order_id
    assert sell.status == order_pb2.BASKET_LEG_STATUS_FAILED
    assert net_filled(stack, "INFY") == 3


async def test_under_unwind_the_legs_after_a_refused_one_are_never_sent(stack: Stack) -> None:
    symbol, quantity = UNSELLABLE
    answer = await stack.orders.PlaceBasket(basket(
        "b-stop", leg("b-stop-sell", symbol, quantity, "SELL", common_pb2.PRODUCT_CNC),
        leg("b-stop-sell-2", "NSE:INFY", 2, "SELL"),
    ))  # fmt: skip
    first, second = answer.legs
    assert first.status == order_pb2.BASKET_LEG_STATUS_FAILED
    assert second.status == order_pb2.BASKET_LEG_STATUS_NOT_SENT and not second.order_id
    assert orders_of(stack, "INFY") == []


async def test_a_basket_id_retried_returns_the_stored_result_and_places_nothing_again(stack: Stack) -> None:
    request = basket("b-once", leg("b-once-1", "NSE:INFY", 1, "BUY"), leg("b-once-2", "NSE:SBIN", 1, "BUY"))
    first = await stack.orders.PlaceBasket(request)
    again = await stack.orders.PlaceBasket(request)
    assert not first.replayed and again.replayed
    assert [leg.order_id for leg in again.legs] == [leg.order_id for leg in first.legs]
    assert len(orders_of(stack, "INFY")) == 1 and len(orders_of(stack, "SBIN")) == 1
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await stack.orders.PlaceBasket(basket("b-once", leg("b-once-1", "NSE:INFY", 2, "BUY")))
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_a_basket_the_account_cannot_afford_is_refused_whole_with_the_margin_it_needs(stack: Stack) -> None:
    request = basket("b-rich", leg("b-rich-1", "NSE:INFY", 1, "BUY"), leg("b-rich-2", "NSE:INFY", 5_000_000, "BUY"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.orders.PlaceBasket(request)
    code, reason, metadata, _ = status_of(refused.value)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert reason == "KITE_INSUFFICIENT_MARGIN"
    assert "nothing was placed" in (refused.value.details() or "")
    assert float(metadata["required"]) > float(metadata["available"])
    assert orders_of(stack, "INFY") == []


async def test_a_preview_only_basket_reads_the_margin_and_places_nothing(stack: Stack) -> None:
    answer = await stack.orders.PlaceBasket(basket(
        "", leg("p-1", "NSE:INFY", 10, "BUY"), leg("p-2", "NSE:INFY", 10, "SELL"), policy=0, preview_only=True,
    ))  # fmt: skip
    margin = answer.margin_preview
    required, initial = from_decimal_pb(margin.required, "required"), from_decimal_pb(margin.initial, "initial")
    assert 0 < required <= initial
    assert margin.sufficient and from_decimal_pb(margin.available, "available") >= required
    assert list(answer.legs) == [] and orders_of(stack, "INFY") == []


@pytest.mark.parametrize(
    ("request_of", "field"),
    [
        (lambda: basket("b-bad", leg("x", "NSE:INFY", 1, "BUY"), policy=0), "failure_policy"),
        (
            lambda: basket("b-bad", leg("x", "NSE:INFY", 1, "BUY"), leg("x", "NSE:SBIN", 1, "BUY")),
            "legs[1].client_order_id",
        ),
        (lambda: basket("b-bad"), "legs"),
        (lambda: basket("b/../bad", leg("x", "NSE:INFY", 1, "BUY")), "basket_id"),
        (
            lambda: basket(
                "b-bad",
                leg("x", "NSE:INFY", 1, "BUY"),
                leg("y", "MCX:CRUDEOIL26DECFUT", 1, "BUY", common_pb2.PRODUCT_NRML),
            ),
            "legs",
        ),
    ],
)
async def test_a_basket_that_cannot_be_read_is_refused_naming_the_field(
    stack: Stack, request_of: Any, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.orders.PlaceBasket(request_of())
    code, _, _, violations = status_of(refused.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in violations] == [field]
    assert stack.kite_orders(ACCOUNT) == []


async def test_a_basket_leg_in_an_unknown_instrument_is_not_found_naming_the_leg(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.orders.PlaceBasket(basket("b-nope", leg("x", "NSE:INFY", 1, "BUY"), leg("y", "NSE:NOPE", 1, "BUY")))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert (refused.value.details() or "").startswith("legs[1].params.instrument")
    assert stack.kite_orders(ACCOUNT) == []


# Faults the simulator's happy path never makes --------------------------------------------------


async def test_a_basket_whose_caller_gives_up_mid_leg_finishes_and_its_retry_places_nothing_twice(
    stack: Stack,
) -> None:
    request = basket("b-gone", leg("b-gone-1", "NSE:INFY", 1, "BUY"), leg("b-gone-2", "NSE:SBIN", 1, "BUY"))
    # The instruments and the margin read first, so the caller's short deadline ends while a leg is held
    # (not before the basket began: on a loaded machine the first call's instrument download can take it).
    await stack.orders.PlaceBasket(basket("", *request.legs, policy=0, preview_only=True))
    held = stack.sim.faults.add(Fault("POST", "/orders/*", "hold"))
    with pytest.raises(grpc.aio.AioRpcError) as gave_up:
        await stack.orders.PlaceBasket(request, timeout=2)
    assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await eventually(lambda: held.held == 1, "the first leg is stuck on its way to Kite")
    held.release()
    answer = await stack.orders.PlaceBasket(request)
    assert [leg.status for leg in answer.legs] == [order_pb2.BASKET_LEG_STATUS_PLACED] * 2
    assert len(orders_of(stack, "INFY")) == 1 and len(orders_of(stack, "SBIN")) == 1
    assert (await stack.orders.PlaceBasket(request)).replayed


@pytest.fixture
async def impatient(tmp_path: Path, sim: ThreadedSimulator, sealing_key: bytes) -> AsyncIterator[Stack]:
    """A gateway that gives up on Kite after half a second."""
    running = await start_stack(tmp_path, sim, sealing_key, request_timeout=0.5)
    yield running
    await stop_stack(running)


async def test_a_leg_kite_never_answers_stops_the_basket_unstored_and_a_retry_after_delivery_completes_it_once(
    impatient: Stack,
) -> None:
    held = impatient.sim.faults.add(Fault("POST", "/orders/*", "hold"))
    request = basket("b-late", leg("b-late-1", "NSE:INFY", 1, "BUY"), leg("b-late-2", "NSE:SBIN", 1, "BUY"))
    for _ in range(2):  # the first call and a retry while the leg is still in the network
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await impatient.orders.PlaceBasket(request)
        code, reason, _, _ = status_of(unknown.value)
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "ORDER_OUTCOME_UNKNOWN")
        assert "retry the basket" in (unknown.value.details() or "")
    assert held.held == 1 and orders_of(impatient, "SBIN") == [], "no further leg left while one was unknown"
    held.release()
    await eventually(lambda: held.delivered == 1, "the held leg reached Kite")
    answer = await impatient.orders.PlaceBasket(request)
    assert not answer.replayed
    assert [leg.status for leg in answer.legs] == [order_pb2.BASKET_LEG_STATUS_PLACED] * 2
    assert len(orders_of(impatient, "INFY")) == 1 and len(orders_of(impatient, "SBIN")) == 1
