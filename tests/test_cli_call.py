"""`kite-gateway call`'s own logic: naming a method, reading the body, showing a failed call."""

from __future__ import annotations

import json
import socket

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from kite_gateway.cli import main
from kite_gateway.cli_call import CallError, error_json, request_of, resolve, to_json


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("MarketDataService/GetQuote", "kite_gateway.v1.MarketDataService.GetQuote"),
        ("kite_gateway.v1.OrderService/PlaceOrder", "kite_gateway.v1.OrderService.PlaceOrder"),
        ("/kite_gateway.v1.OrderService/PlaceOrder", "kite_gateway.v1.OrderService.PlaceOrder"),
        ("grpc.health.v1.Health/Check", "grpc.health.v1.Health.Check"),
        ("OrderService.ListOrders", "kite_gateway.v1.OrderService.ListOrders"),
        ("PortfolioService/GetPositions", "kite_gateway.v1.PortfolioService.GetPositions"),
        ("AccountService/GetProfile", "kite_gateway.v1.AccountService.GetProfile"),
    ],
)
def test_a_short_or_full_service_name_resolves_to_its_method(name: str, full: str) -> None:
    assert resolve(name).full_name == full


def test_a_streaming_method_resolves_as_one_that_streams_its_replies() -> None:
    method = resolve("MarketDataService/StreamTicks")
    assert method.server_streaming and not method.client_streaming


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("OrderServce/PlaceOrder", "no service kite_gateway.v1.OrderServce; the services are AccountService,"),
        ("OrderService/PlaceOrdr", "OrderService has no method PlaceOrdr; its methods are PlaceOrder, ModifyOrder"),
        ("grpc.health.v1.Health/Chek", "grpc.health.v1.Health has no method Chek; its methods are Check,"),
        ("PlaceOrder", "name the method as SERVICE/METHOD"),
        ("OrderService/", "name the method as SERVICE/METHOD"),
    ],
)
def test_an_unknown_name_is_refused_saying_what_exists(name: str, says: str) -> None:
    with pytest.raises(CallError, match=says.replace(".", r"\.")):
        resolve(name)


def test_the_body_is_read_with_proto_or_json_field_names() -> None:
    method = resolve("OrderService/ListOrders")
    assert request_of(method, '{"account_id": "ZS0001"}') == request_of(method, '{"accountId": "ZS0001"}')
    assert request_of(method, "{}").ByteSize() == 0


def test_a_body_that_does_not_fit_the_request_names_the_message_and_the_field() -> None:
    with pytest.raises(
        CallError, match=r"not a valid kite_gateway\.v1\.ListOrdersRequest: .*no field named \"acount\""
    ):
        request_of(resolve("OrderService/ListOrders"), '{"acount": "ZS0001"}')
    with pytest.raises(CallError, match="not a valid"):
        request_of(resolve("OrderService/ListOrders"), "{not json")


def test_a_reply_is_printed_with_the_field_names_one_types() -> None:
    method = resolve("OrderService/ListOrders")
    request = request_of(method, '{"accountId": "ZS0001"}')
    assert json.loads(to_json(request)) == {"account_id": "ZS0001"}
    assert "\n" not in to_json(request, indent=None)


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def test_a_failed_call_shows_its_code_name_message_reason_metadata_and_bad_fields() -> None:
    status = status_pb2.Status(
        code=3,
        message="params.quantity: must be positive",
        details=[
            _packed(
                error_details_pb2.ErrorInfo(
                    reason="INVALID_FIELD", domain="kite-gateway", metadata={"account_id": "ZS0001"}
                )
            ),
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="params.quantity", description="must be positive"
                        )
                    ]
                )
            ),
        ],
    )
    shown = json.loads(error_json(grpc.StatusCode.INVALID_ARGUMENT, status.message, status.SerializeToString()))
    assert shown["code"] == "INVALID_ARGUMENT"
    assert shown["message"] == "params.quantity: must be positive"
    info, bad = shown["details"]
    assert info["reason"] == "INVALID_FIELD" and info["metadata"] == {"account_id": "ZS0001"}
    assert bad["field_violations"] == [{"field": "params.quantity", "description": "must be positive"}]


def test_a_failed_call_without_details_shows_code_and_message_only() -> None:
    assert json.loads(error_json(grpc.StatusCode.UNAVAILABLE, "connection refused", None)) == {
        "code": "UNAVAILABLE",
        "message": "connection refused",
    }


def test_a_detail_of_an_unknown_type_is_shown_raw_rather_than_failing() -> None:
    unknown = any_pb2.Any(type_url="type.googleapis.com/example.Unknown", value=b"\x08\x01")
    status = status_pb2.Status(code=9, message="no", details=[unknown])
    shown = json.loads(error_json(grpc.StatusCode.FAILED_PRECONDITION, "no", status.SerializeToString()))
    assert shown["details"] == [{"@type": "type.googleapis.com/example.Unknown", "value": "0801"}]


def test_a_call_to_an_address_where_no_gateway_listens_says_to_start_one_or_name_another(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as unused:  # bound, never listening: the connection is refused at once
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
        assert main(["call", "--address", address, "AccountService/ListAccounts", "--timeout", "10"]) == 1
    shown = json.loads(capsys.readouterr().err)
    assert shown["code"] == "UNAVAILABLE"
    assert f"no gateway answered at {address}" in shown["hint"] and "make run" in shown["hint"]
    assert "--address" in shown["hint"]
