"""Order and modification rules as units: a modification is held to the lot and tick rules of a
new order, and market protection is filled in as Kite expects it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kite_gateway.core.orders.requests import Modification, OrderParams, Protection
from kite_gateway.core.orders.validation import check_client_order_id, modify_kwargs, order_kwargs
from kite_gateway.errors import GatewayError, Status
from kite_wire import MARKET_PROTECTION_REQUIRED, MCX_IOC_REFUSED
from tests.core.orders.listings import future, listing


def refusal(call: object) -> GatewayError:
    assert callable(call)
    with pytest.raises(GatewayError) as caught:
        call()
    assert caught.value.code == Status.INVALID_ARGUMENT
    return caught.value


def market(**overrides: object) -> OrderParams:
    fields: dict[str, object] = {
        "listing": listing(), "variety": "regular", "order_type": "MARKET", "product": "CNC",
        "transaction_type": "BUY", "validity": "DAY", "quantity": 1,
    }  # fmt: skip
    fields.update(overrides)
    return OrderParams(**fields)  # type: ignore[arg-type]


def test_a_modified_quantity_must_be_a_whole_number_of_lots() -> None:
    error = refusal(lambda: modify_kwargs(Modification(quantity=80), future(lot_size=75)))
    assert error.field_violations[0][0] == "quantity" and "not a multiple of the lot size 75" in error.message
    assert modify_kwargs(Modification(quantity=150), future(lot_size=75)) == {"quantity": 150}


def test_a_modified_price_or_trigger_must_be_on_the_tick_grid_like_a_new_orders() -> None:
    for name in ("price", "trigger_price"):
        change = Modification(**{name: Decimal("100.03")})  # type: ignore[arg-type]
        error = refusal(lambda change=change: modify_kwargs(change, listing()))
        assert error.field_violations[0][0] == name and "not a multiple of the tick size 0.05" in error.message
    assert modify_kwargs(Modification(price=Decimal("100.05")), listing()) == {"price": 100.05}


def test_a_modification_to_zero_or_below_is_refused_even_for_an_instrument_not_in_the_master() -> None:
    assert refusal(lambda: modify_kwargs(Modification(quantity=0), None)).field_violations[0][0] == "quantity"
    assert refusal(lambda: modify_kwargs(Modification(price=Decimal(0)), None)).field_violations[0][0] == "price"
    assert modify_kwargs(Modification(price=Decimal("100.03")), None) == {"price": 100.03}  # no grid known


def test_a_modification_that_changes_nothing_is_refused() -> None:
    assert "nothing to modify" in refusal(lambda: modify_kwargs(Modification(), listing())).message


def test_a_modification_passes_order_type_validity_and_disclosed_quantity_through() -> None:
    change = Modification(order_type="LIMIT", validity="IOC", disclosed_quantity=0)
    assert modify_kwargs(change, listing()) == {"order_type": "LIMIT", "validity": "IOC", "disclosed_quantity": 0}


def test_market_protection_is_the_gateways_default_unless_the_order_asks_for_auto_or_a_percent() -> None:
    assert order_kwargs(market(), Decimal("2.5"))["market_protection"] == 2.5
    assert order_kwargs(market(protection=Protection.AUTO), Decimal("2.5"))["market_protection"] == -1
    percent = market(protection=Protection.PERCENT, protection_percent=Decimal(3))
    assert order_kwargs(percent, Decimal("2.5"))["market_protection"] == 3
    over = market(protection=Protection.PERCENT, protection_percent=Decimal(101))
    assert refusal(lambda: order_kwargs(over, Decimal(1))).field_violations[0][0] == "params.market_protection_percent"


def test_market_protection_on_a_limit_order_is_refused() -> None:
    limit = market(order_type="LIMIT", price=Decimal(100), protection=Protection.AUTO)
    assert refusal(lambda: order_kwargs(limit, Decimal(1), "legs[2].params")).field_violations[0][0] == (
        "legs[2].params.market_protection"
    )


def test_an_index_cannot_be_ordered() -> None:
    index = market(listing=listing("NIFTY 50", segment="INDICES", instrument_type="EQ"))
    assert "is an index" in refusal(lambda: order_kwargs(index, Decimal(1))).message


def test_a_client_order_id_is_1_to_64_characters_of_a_small_alphabet() -> None:
    check_client_order_id("a.b_c:d-1")
    for bad in ("", "x" * 65, "has space", "slash/"):
        assert refusal(lambda bad=bad: check_client_order_id(bad)).field_violations[0][0] == "client_order_id"


# SEBI's 2026 rules, as Kite enforces them -------------------------------------------------------


@pytest.mark.parametrize("order_type", ["MARKET", "SL-M"])
def test_market_protection_0_is_refused_before_kite_in_kites_words_naming_the_field(order_type: str) -> None:
    stop = {"trigger_price": Decimal(100)} if order_type == "SL-M" else {}
    zero = market(order_type=order_type, protection=Protection.PERCENT, protection_percent=Decimal(0), **stop)
    error = refusal(lambda: order_kwargs(zero, Decimal(-1)))
    assert error.field_violations[0][0] == "params.market_protection_percent"
    assert MARKET_PROTECTION_REQUIRED in error.message
    unset = refusal(lambda: order_kwargs(market(order_type=order_type, **stop), Decimal(0)))
    assert (
        unset.field_violations[0][0] == "params.market_protection" and "KITE_GATEWAY_MARKET_PROTECTION" in unset.message
    )
    assert order_kwargs(market(order_type=order_type, **stop), Decimal(-1))["market_protection"] == -1


def mcx(**overrides: object) -> OrderParams:
    crude = listing("CRUDEOIL26DECFUT", exchange="MCX", segment="MCX-FUT", instrument_type="FUT", tick_size="1")
    fields = {"listing": crude, "order_type": "LIMIT", "price": Decimal(5700), "product": "NRML", **overrides}
    return market(**fields)


def test_an_ioc_order_on_mcx_is_refused_before_kite_naming_the_validity() -> None:
    error = refusal(lambda: order_kwargs(mcx(validity="IOC"), Decimal(-1), "legs[1].params"))
    assert error.field_violations[0][0] == "legs[1].params.validity" and MCX_IOC_REFUSED in error.message
    assert order_kwargs(mcx(), Decimal(-1))["validity"] == "DAY"
    assert order_kwargs(market(validity="IOC"), Decimal(-1))["validity"] == "IOC"  # NSE takes IOC


def test_a_modification_to_ioc_on_mcx_is_refused_and_one_to_market_carries_market_protection() -> None:
    crude = mcx().listing
    assert refusal(lambda: modify_kwargs(Modification(validity="IOC"), crude)).field_violations[0][0] == "validity"
    assert modify_kwargs(Modification(order_type="MARKET"), listing(), Decimal("2.5")) == {
        "order_type": "MARKET",
        "market_protection": 2.5,
    }


def test_an_algo_id_is_sent_as_kites_algo_id_and_a_malformed_one_is_refused() -> None:
    assert order_kwargs(market(algo_id="ALGO-7.1"), Decimal(-1))["algo_id"] == "ALGO-7.1"
    assert "algo_id" not in order_kwargs(market(), Decimal(-1))
    for bad in ("has space", "x" * 65):
        error = refusal(lambda bad=bad: order_kwargs(market(algo_id=bad), Decimal(-1)))
        assert error.field_violations[0][0] == "params.algo_id"


def test_autoslice_is_refused_on_an_iceberg_before_kite_and_sent_as_no_form_field_of_the_order() -> None:
    iceberg = market(variety="iceberg", order_type="LIMIT", price=Decimal(10), quantity=10, iceberg_legs=2,
                     iceberg_quantity=5, autoslice=True)  # fmt: skip
    assert refusal(lambda: order_kwargs(iceberg, Decimal(-1))).field_violations[0][0] == "params.autoslice"
    assert "autoslice" not in order_kwargs(market(autoslice=True), Decimal(-1))  # it picks the client's method
