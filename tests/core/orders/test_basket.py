"""The basket's pure rules: the sending order (hedge first), one margin segment, what no basket
may be, and a stored result read back as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_gateway.core.orders import BasketLegResult, BasketMargin, BasketRequest, BasketResult, LegStatus, Policy
from kite_gateway.core.orders.basket import check_basket, result_codec, segment_of, sending_order
from kite_gateway.core.orders.requests import NewOrder, OrderParams
from kite_gateway.errors import GatewayError, Reason, Status
from kite_wire.instruments import Instrument


def listing(exchange: str, tradingsymbol: str) -> Instrument:
    return Instrument(1, 1, tradingsymbol, tradingsymbol, exchange, exchange, "EQ", None, Decimal(0),
                      Decimal("0.05"), 1, Decimal(100))  # fmt: skip


def order(cid: str, side: str = "BUY", exchange: str = "NSE", **params: object) -> NewOrder:
    fields: dict[str, object] = {"variety": "regular", "order_type": "MARKET", "product": "MIS",
                                 "transaction_type": side, "validity": "DAY", "quantity": 1, **params}  # fmt: skip
    return NewOrder("AB1234", cid, OrderParams(listing(exchange, cid.upper()), **fields), f"fp-{cid}")  # type: ignore[arg-type]


def request(*legs: NewOrder, policy: Policy | None = Policy.UNWIND, basket_id: str = "b-1") -> BasketRequest:
    return BasketRequest("AB1234", basket_id, legs, policy)


def field_of(error: pytest.ExceptionInfo[GatewayError]) -> str:
    assert error.value.code is Status.INVALID_ARGUMENT
    return error.value.field_violations[0][0]


def test_buy_legs_are_sent_before_sell_legs_each_side_in_request_order() -> None:
    legs = [order("s1", "SELL"), order("b1"), order("s2", "SELL"), order("b2")]
    assert sending_order(legs) == [1, 3, 0, 2]


def test_a_basket_across_equity_and_commodity_is_refused_and_one_segment_is_named() -> None:
    assert segment_of([order("a"), order("b", exchange="NFO")]) == "equity"
    assert segment_of([order("a", exchange="MCX")]) == "commodity"
    with pytest.raises(GatewayError) as mixed:
        segment_of([order("a"), order("b", exchange="MCX")])
    assert field_of(mixed) == "legs"


@pytest.mark.parametrize(
    ("basket", "field"),
    [
        (request(order("a"), policy=None), "failure_policy"),
        (request(order("a"), basket_id=""), "basket_id"),
        (request(order("a"), basket_id="../etc"), "basket_id"),
        (request(), "legs"),
        (request(*(order(f"l{i}") for i in range(21))), "legs"),
        (request(order("a"), order("a")), "legs[1].client_order_id"),
        (request(order("a", autoslice=True)), "legs[0].params.autoslice"),
        (request(order("a", variety="iceberg")), "legs[0].params.variety"),
    ],
)
def test_what_no_basket_may_be_is_refused_naming_the_field(basket: BasketRequest, field: str) -> None:
    with pytest.raises(GatewayError) as refused:
        check_basket(basket)
    assert field_of(refused) == field


def test_a_preview_needs_neither_a_basket_id_nor_a_policy() -> None:
    check_basket(BasketRequest("AB1234", "", (order("a"),), None, preview_only=True))


def test_the_fingerprint_changes_with_the_policy_the_legs_and_the_account() -> None:
    base = request(order("a"), order("b"))
    assert base.fingerprint() == request(order("a"), order("b")).fingerprint()
    assert base.fingerprint() != request(order("a"), order("b"), policy=Policy.BEST_EFFORT).fingerprint()
    assert base.fingerprint() != request(order("b"), order("a")).fingerprint()
    other = BasketRequest("CD5678", "b-1", base.legs, Policy.UNWIND)
    assert base.fingerprint() != other.fingerprint()


def test_a_stored_result_reads_back_as_it_was_marked_replayed() -> None:
    failure = GatewayError(Status.FAILED_PRECONDITION, Reason.KITE_ORDER_REJECTED, "no holdings", {"order_id": "2"})
    result = BasketResult(
        "b-1", BasketMargin(Decimal("10.5"), Decimal("12"), None),
        (BasketLegResult("a", LegStatus.UNWOUND, 0, "1", None, 5, "3"),
         BasketLegResult("b", LegStatus.FAILED, 1, "2", failure)), unwound=True,
    )  # fmt: skip
    codec = result_codec("b-1")
    back = codec.decode(codec.encode(result))
    assert back.replayed and back.unwound and back.margin == result.margin and not back.margin.sufficient
    assert back.legs[0] == result.legs[0]
    assert back.legs[1].failure is not None and back.legs[1].failure.message == "no holdings"
    assert back.legs[1].failure.reason is Reason.KITE_ORDER_REJECTED
