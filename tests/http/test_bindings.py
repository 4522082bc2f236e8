"""HttpRules (made by hand here, as the protos' annotations will be) become bindings, and requests
are routed to them by method and path."""

from __future__ import annotations

import pytest
from google.api import http_pb2
from google.protobuf.descriptor import MethodDescriptor
from kite_gateway_api.v1 import account_pb2, market_data_pb2, order_pb2, portfolio_pb2

from kite_gateway.http import BindingError, Router, bindings_of

SERVICES = (
    order_pb2.DESCRIPTOR.services_by_name["OrderService"],
    market_data_pb2.DESCRIPTOR.services_by_name["MarketDataService"],
    portfolio_pb2.DESCRIPTOR.services_by_name["PortfolioService"],
    account_pb2.DESCRIPTOR.services_by_name["AccountService"],
)


def method(name: str) -> MethodDescriptor:
    return next(s.methods_by_name[name] for s in SERVICES if name in s.methods_by_name)


def cancel_rule() -> http_pb2.HttpRule:
    return http_pb2.HttpRule(
        post="/v1/accounts/{account_id}/orders/{order.order_id}:cancel",
        additional_bindings=[http_pb2.HttpRule(delete="/api/v1/trading/orders/{order.order_id}/cancel")],
    )


def test_a_rule_and_its_additional_bindings_are_each_a_binding() -> None:
    primary, seed = bindings_of(method("CancelOrder"), cancel_rule())
    assert (primary.http_method, primary.template.text) == (
        "POST",
        "/v1/accounts/{account_id}/orders/{order.order_id}:cancel",
    )
    assert (seed.http_method, seed.body) == ("DELETE", "")
    assert seed.rpc_path == "/kite_gateway.v1.OrderService/CancelOrder"


def test_a_custom_method_rule_binds_its_kind() -> None:
    rule = http_pb2.HttpRule(custom=http_pb2.CustomHttpPattern(kind="HEAD", path="/v1/orders"))
    (binding,) = bindings_of(method("ListOrders"), rule)
    assert binding.http_method == "HEAD"


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        (http_pb2.HttpRule(get="/v1/{nope}"), "path variable 'nope'"),
        (http_pb2.HttpRule(get="/v1/{order}"), "path variable 'order'"),
        (http_pb2.HttpRule(post="/v1/x", body="nope"), "body 'nope'"),
        (http_pb2.HttpRule(post="/v1/x", response_body="nope"), "response_body 'nope'"),
        (http_pb2.HttpRule(get="/v1/{a"), "unclosed"),
        (http_pb2.HttpRule(body="*"), "without a method and path"),
        (
            http_pb2.HttpRule(
                get="/a",
                additional_bindings=[http_pb2.HttpRule(get="/b", additional_bindings=[http_pb2.HttpRule(get="/c")])],
            ),
            "may not nest",
        ),
    ],
)
def test_a_rule_that_cannot_be_served_is_refused_naming_the_method(rule: http_pb2.HttpRule, complaint: str) -> None:
    with pytest.raises(BindingError, match=complaint) as raised:
        bindings_of(method("CancelOrder"), rule)
    assert "kite_gateway.v1.OrderService.CancelOrder" in str(raised.value)


def router() -> Router:
    rules = {
        "ListOrders": http_pb2.HttpRule(
            get="/v1/accounts/{account_id}/orders",
            additional_bindings=[http_pb2.HttpRule(get="/api/v1/trading/orders")],
        ),
        "PlaceOrder": http_pb2.HttpRule(post="/v1/accounts/{account_id}/orders", body="*"),
        "CancelOrder": cancel_rule(),
        "GetLtp": http_pb2.HttpRule(get="/api/v1/market/ltp"),
    }
    return Router([b for name, rule in rules.items() for b in bindings_of(method(name), rule)])


def test_a_request_is_routed_by_method_and_path_with_its_path_values() -> None:
    routed = router().route("POST", "/v1/accounts/ZS0001/orders")
    assert not isinstance(routed, list)
    assert routed.binding.method.name == "PlaceOrder"
    assert routed.path_values == {"account_id": "ZS0001"}
    seed = router().route("DELETE", "/api/v1/trading/orders/2411/cancel")
    assert not isinstance(seed, list)
    assert (seed.binding.method.name, seed.path_values) == ("CancelOrder", {"order.order_id": "2411"})


def test_a_path_served_under_other_methods_lists_them_and_an_unknown_path_lists_none() -> None:
    assert router().route("DELETE", "/v1/accounts/ZS0001/orders") == ["GET", "POST"]
    assert router().route("GET", "/v1/nothing/here") == []


def test_the_router_mounts_under_each_distinct_first_segment() -> None:
    assert router().prefixes == ["/v1", "/api"]
