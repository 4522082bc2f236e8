"""HTTP/JSON into request messages (body, path, query) and responses back to JSON; every refusal
names the field a caller got wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api import http_pb2
from kite_gateway_api.v1 import account_pb2, common_pb2, market_data_pb2, order_pb2

from kite_gateway.errors import GatewayError, Status
from kite_gateway.http import Binding, bindings_of
from kite_gateway.http.transcoding import request_message, response_json
from tests.http.test_bindings import method


def binding(name: str, **rule: Any) -> Binding:
    return bindings_of(method(name), http_pb2.HttpRule(**rule))[0]


def refusal(binding: Binding, path: dict[str, str], query: list[tuple[str, str]], body: bytes) -> tuple[str, str]:
    with pytest.raises(GatewayError) as raised:
        request_message(binding, path, query, body)
    assert raised.value.code is Status.INVALID_ARGUMENT
    ((field, problem),) = raised.value.field_violations
    return field, problem


PLACE = binding("PlaceOrder", post="/v1/accounts/{account_id}/orders", body="*")


def test_a_whole_body_request_takes_the_path_fields_and_either_json_name_spelling() -> None:
    body = {
        "clientOrderId": "c-1",
        "params": {"instrument": {"symbol": "NSE:INFY"}, "quantity": "5", "order_type": "ORDER_TYPE_MARKET"},
    }
    request = request_message(PLACE, {"account_id": "ZS0001"}, [], json.dumps(body).encode())
    assert isinstance(request, order_pb2.PlaceOrderRequest)
    assert (request.account_id, request.client_order_id) == ("ZS0001", "c-1")
    assert request.params.instrument.symbol == "NSE:INFY"
    assert (request.params.quantity, request.params.order_type) == (5, common_pb2.ORDER_TYPE_MARKET)


def test_a_decimal_in_the_body_may_be_a_bare_string_at_any_depth() -> None:
    body = {"params": {"price": "1562.55", "trigger_price": {"value": "1560"}}}
    request = request_message(PLACE, {"account_id": "A1"}, [], json.dumps(body).encode())
    assert isinstance(request, order_pb2.PlaceOrderRequest)
    assert (request.params.price.value, request.params.trigger_price.value) == ("1562.55", "1560")
    margins = binding("GetOrderMargins", post="/v1/margins", body="*")
    basket = request_message(margins, {}, [], b'{"orders": [{"price": "10.5"}, {"price": {"value": "11"}}]}')
    assert isinstance(basket, order_pb2.GetOrderMarginsRequest)
    assert [o.price.value for o in basket.orders] == ["10.5", "11"]
    assert refusal(PLACE, {}, [], b'{"params": {"price": 1562.55}}')[0] == "params.price"
    search = binding("SearchInstruments", get="/v1/search")
    found = request_message(search, {}, [("strike_min", "24000"), ("strike_max.value", "24500")], b"")
    assert isinstance(found, market_data_pb2.SearchInstrumentsRequest)
    assert (found.strike_min.value, found.strike_max.value) == ("24000", "24500")


def test_query_parameters_fill_repeated_fields_and_one_element_per_value_of_a_repeated_message() -> None:
    ltp = binding("GetLtp", get="/api/v1/market/ltp")
    query = [("account_id", "ZS0001"), ("instruments.symbol", "NSE:INFY"), ("instruments.symbol", "NSE:TCS")]
    request = request_message(ltp, {}, query, b"")
    assert isinstance(request, market_data_pb2.GetLtpRequest)
    assert [i.symbol for i in request.instruments] == ["NSE:INFY", "NSE:TCS"]
    orders = binding("ListOrders", get="/v1/accounts/{account_id}/orders")
    listed = request_message(orders, {"account_id": "A1"}, [("statuses", "ORDER_STATUS_OPEN"), ("statuses", "9")], b"")
    assert isinstance(listed, order_pb2.ListOrdersRequest)
    assert len(listed.statuses) == 2 and listed.statuses[0] == order_pb2.ORDER_STATUS_OPEN


def test_query_values_become_booleans_well_known_types_and_optional_numbers() -> None:
    stream = binding("StreamOrderUpdates", get="/v1/accounts/{account_id}/orderUpdates")
    request = request_message(
        stream, {"account_id": "A1"}, [("after_sequence", "0"), ("heartbeatInterval", "2.5s")], b""
    )
    assert isinstance(request, order_pb2.StreamOrderUpdatesRequest)
    assert request.HasField("after_sequence") and request.after_sequence == 0
    assert request.heartbeat_interval.ToMilliseconds() == 2500
    history = binding("GetHistoricalData", get="/v1/history")
    candles = request_message(history, {}, [("include_oi", "true"), ("start_time", "2026-12-01T03:45:00Z")], b"")
    assert isinstance(candles, market_data_pb2.GetHistoricalDataRequest)
    assert candles.include_oi
    assert candles.start_time.ToDatetime(tzinfo=UTC) == datetime(2026, 12, 1, 3, 45, tzinfo=UTC)


def test_a_bad_value_deep_in_the_body_is_refused_naming_its_field_path() -> None:
    field, problem = refusal(PLACE, {}, [], b'{"params": {"quantity": "five"}}')
    assert field == "params.quantity" and "five" in problem
    field, problem = refusal(PLACE, {}, [], b'{"params": {"order_type": "SOON"}}')
    assert field == "params.order_type" and "SOON" in problem


def test_an_unknown_field_in_the_body_or_query_is_refused_not_ignored() -> None:
    assert refusal(PLACE, {}, [], b'{"params": {"qty": 1}}')[0] == "params.qty"
    assert refusal(PLACE, {}, [], b'{"qty": 1}')[0] == "qty"
    ltp = binding("GetLtp", get="/api/v1/market/ltp")
    field, problem = refusal(ltp, {}, [("symbol", "NSE:INFY")], b"")
    assert field == "symbol" and "no such field" in problem
    positions = binding("GetPositions", get="/api/v1/trading/positions")
    assert refusal(positions, {}, [("symbols", "NSE:INFY")], b"")[0] == "symbols"


def test_the_seed_platforms_comma_separated_symbols_fill_the_instruments() -> None:
    ltp = binding("GetLtp", get="/api/v1/market/ltp")
    request = request_message(ltp, {}, [("account_id", "A1"), ("symbols", "NSE:INFY, NSE:TCS,")], b"")
    assert isinstance(request, market_data_pb2.GetLtpRequest)
    assert [i.symbol for i in request.instruments] == ["NSE:INFY", "NSE:TCS"]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [(b"[1, 2]", "JSON object"), (b"{not json", "is not JSON"), (b"\xff\xfe", "is not JSON")],
)
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes, complaint: str) -> None:
    field, problem = refusal(PLACE, {}, [], body)
    assert field == "body" and complaint in problem


def test_a_route_without_a_body_refuses_one_and_a_path_field_is_not_given_twice() -> None:
    orders = binding("ListOrders", get="/v1/accounts/{account_id}/orders")
    assert refusal(orders, {"account_id": "A1"}, [], b'{"statuses": []}')[0] == "body"
    assert refusal(orders, {"account_id": "A1"}, [("account_id", "B2")], b"")[0] == "account_id"
    assert refusal(orders, {"account_id": "A1"}, [("account_id.x", "1")], b"")[0] == "account_id.x"


def test_a_singular_query_field_given_twice_is_refused() -> None:
    ltp = binding("GetLtp", get="/api/v1/market/ltp")
    assert refusal(ltp, {}, [("account_id", "A"), ("account_id", "B")], b"")[0] == "account_id"


def test_a_field_body_fills_that_field_and_a_response_body_answers_with_that_field() -> None:
    cancel = binding(
        "CancelOrder", post="/v1/accounts/{account_id}/orders:cancel", body="order", response_body="order_id"
    )
    request = request_message(cancel, {"account_id": "A1"}, [], b'{"order_id": "123"}')
    assert isinstance(request, order_pb2.CancelOrderRequest) and request.order.order_id == "123"
    assert response_json(cancel, order_pb2.CancelOrderResponse(order_id="123")) == "123"


def test_a_response_prints_fields_at_their_default_with_proto_names() -> None:
    shown = response_json(binding("PlaceOrder", get="/x"), order_pb2.PlaceOrderResponse(order_id="9"))
    assert shown == {"order_id": "9", "client_order_id": "", "replayed": False, "parent_order_id": "", "children": []}
    account = response_json(
        binding("PlaceOrder", get="/x"), account_pb2.GetAccountResponse(account=account_pb2.Account())
    )
    assert account["account"]["session_state"] == "SESSION_STATE_UNSPECIFIED"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b'{"client_order_id": ' + b"9" * 5000 + b"}", "at most 4300 digits"),  # int() refused it: a 500 before
        (b"[" * 100_000 + b"]" * 100_000, "too deeply"),  # RecursionError in json.loads
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "too deeply"),
    ],
)
def test_a_body_python_cannot_read_as_json_is_refused_as_a_bad_body_not_a_server_error(
    body: bytes, complaint: str
) -> None:
    field, problem = refusal(PLACE, {}, [], body)
    assert field == "body" and complaint in problem


@pytest.mark.parametrize(
    ("body", "field", "complaint"),
    [
        ({"client_order_id": {"a": 1}}, "client_order_id", "must be a JSON string"),
        ({"client_order_id": 7}, "client_order_id", "must be a JSON string"),
        ({"params": True}, "params", "must be a JSON object (a kite_gateway.v1.OrderParams)"),
        ({"params": "ZZ"}, "params", "must be a JSON object"),
        ({"params": {"quantity": {"a": 1}}}, "params.quantity", "must be an integer"),
        ({"params": {"quantity": "x"}}, "params.quantity", "must be an integer (a JSON number or a string of digits)"),
        ({"params": {"quantity": True}}, "params.quantity", "must be an integer"),
        ({"params": {"order_type": ["ORDER_TYPE_LIMIT"]}}, "params.order_type", "must be a OrderType name"),
        ({"params": {"price": 1.5}}, "params.price", "must be a JSON string (a google.type.Decimal"),
        ({"params": {"price": [1]}}, "params.price", "must be a JSON string"),
        ({"params": {"instrument": 1}}, "params.instrument", "must be a JSON object (a kite_gateway.v1.InstrumentRef)"),
    ],
)
def test_a_value_of_the_wrong_json_kind_is_refused_in_words_not_pythons(
    body: dict[str, Any], field: str, complaint: str
) -> None:
    found, problem = refusal(PLACE, {}, [], json.dumps(body).encode())
    assert found == field and complaint in problem
    for python in ("object is not iterable", "unhashable", "int()", "bytes-like", "'dict'", "NoneType"):
        assert python not in problem


def test_a_repeated_field_a_timestamp_and_a_query_integer_of_the_wrong_kind_are_refused_in_words() -> None:
    ltp = binding("GetLtp", post="/v1/accounts/{account_id}/ltp", body="*")
    field, problem = refusal(ltp, {}, [], b'{"instruments": {"symbol": "NSE:INFY"}}')
    assert (
        field == "instruments"
        and problem == "must be a JSON array (of a JSON object (a kite_gateway.v1.InstrumentRef))"
    )
    historical = binding("GetHistoricalData", post="/api/v1/market/historical", body="*")
    field, problem = refusal(historical, {}, [], b'{"start_time": "2026-13-01T00:00:00Z"}')
    assert field == "start_time" and "is not an RFC 3339 time" in problem and "%Y" not in problem
    field, problem = refusal(historical, {}, [], b'{"start_time": {"seconds": 1}}')
    assert field == "start_time" and problem.startswith("must be an RFC 3339 time")
    orders = binding("ListOrders", get="/v1/accounts/{account_id}/orders")
    audit = binding("ListAuditEvents", get="/v1/accounts/{account_id}/auditEvents")
    field, problem = refusal(audit, {"account_id": "A1"}, [("page_size", "ten")], b"")
    assert field == "page_size" and "must be an integer" in problem and "int()" not in problem
    field, problem = refusal(orders, {"account_id": "A1"}, [("", "1")], b"")
    assert field == "query" and "is not a field path" in problem
    assert refusal(orders, {"account_id": "A1"}, [("statuses.", "1")], b"")[0] == "statuses."


def test_a_body_naming_another_account_or_order_than_the_path_is_refused_not_overridden() -> None:
    for key in ("account_id", "accountId"):
        body = json.dumps({key: "ZS0002", "client_order_id": "c-1"}).encode()
        field, problem = refusal(PLACE, {"account_id": "ZS0001"}, [], body)
        assert field == "account_id" and "'ZS0001'" in problem
    same = request_message(PLACE, {"account_id": "ZS0001"}, [], b'{"accountId": "ZS0001", "client_order_id": "c"}')
    assert isinstance(same, order_pb2.PlaceOrderRequest) and same.account_id == "ZS0001"
    cancel = binding("CancelOrder", post="/v1/accounts/{account_id}/orders/{order.order_id}:cancel", body="*")
    body = b'{"order": {"order_id": "222"}}'
    assert refusal(cancel, {"account_id": "A1", "order.order_id": "111"}, [], body)[0] == "order.order_id"
