"""google.api.http path templates: what they match, what they bind, and what they refuse."""

from __future__ import annotations

import pytest

from kite_gateway.http import PathTemplate, TemplateError


def test_a_single_segment_variable_binds_its_field_percent_decoded() -> None:
    template = PathTemplate.parse("/v1/accounts/{account_id}/orders/{order.order_id}")
    assert template.match("/v1/accounts/ZS0001/orders/2411%2F01") == {
        "account_id": "ZS0001",
        "order.order_id": "2411/01",
    }
    assert template.match("/v1/accounts/ZS0001/orders") is None
    assert template.match("/v1/accounts/ZS0001/orders/1/2") is None


def test_a_custom_verb_is_matched_after_the_last_variable() -> None:
    template = PathTemplate.parse("/v1/accounts/{account_id}/orders/{order.order_id}:cancel")
    assert template.verb == "cancel"
    assert template.match("/v1/accounts/ZS0001/orders/123:cancel") == {"account_id": "ZS0001", "order.order_id": "123"}
    assert template.match("/v1/accounts/ZS0001/orders/123") is None
    assert template.match("/v1/accounts/ZS0001/orders/123:modify") is None


def test_a_multi_segment_variable_keeps_an_encoded_slash_encoded() -> None:
    template = PathTemplate.parse("/v1/{name=accounts/*/orders/**}")
    assert template.match("/v1/accounts/A1/orders/x/y%2Fz") == {"name": "accounts/A1/orders/x/y%2Fz"}
    assert template.match("/v1/users/A1/orders/x") is None


def test_wildcards_outside_variables_match_without_binding() -> None:
    template = PathTemplate.parse("/v1/*/things/{id}")
    assert template.match("/v1/anything/things/7") == {"id": "7"}


def test_the_openapi_form_names_each_variable_by_its_field_path() -> None:
    template = PathTemplate.parse("/v1/accounts/{account_id}/orders/{order.order_id=*}:cancel")
    assert template.openapi_path() == "/v1/accounts/{account_id}/orders/{order.order_id}:cancel"
    assert template.literal_prefix == "/v1/accounts"


@pytest.mark.parametrize(
    "text",
    ["v1/orders", "/v1/{", "/v1/{a b}", "/v1/{a}/{a}", "/v1/**/x", "/v1/orders:", "/v1//x", "/v1/{a={b}}"],
)
def test_a_template_outside_the_grammar_is_refused_by_name(text: str) -> None:
    with pytest.raises(TemplateError, match="path template"):
        PathTemplate.parse(text)
