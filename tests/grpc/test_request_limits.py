"""The request limits (kite_gateway.grpc.request_limits), Kite's path-parameter forms (kite_gateway.kite.paths)
and the error model's mapping of Kite's exceptions, checked without a server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from kiteconnect import exceptions as kite_exceptions

from kite_gateway.errors import MAX_DETAIL, MAX_MESSAGE, GatewayError, Status
from kite_gateway.grpc import request_limits as limits
from kite_gateway.grpc.registry import API_SERVICES
from kite_gateway.grpc.status import trailing_metadata
from kite_gateway.kite.errors import from_kite
from kite_gateway.kite.paths import PATH_PARAMETERS, check_call

REQUESTS = [m.input_type for service in API_SERVICES for m in service.descriptor.methods]


def _fields(descriptor: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, list[FieldDescriptor]]]:
    """Every string and repeated field reachable in a request (through one item of each repeated
    message), with the chain of fields leading to it."""
    for fd in descriptor.fields:
        here = f"{path}.{fd.name}" if path else fd.name
        if fd.type == FieldDescriptor.TYPE_STRING or fd.is_repeated:
            yield here, [fd]
        nested: Any = fd.message_type
        if nested is None or depth >= 4 or nested.GetOptions().map_entry:
            continue
        if nested.full_name.startswith("kite_gateway.v1.") and fd.full_name not in limits.OUTPUT_ONLY:
            for inner, chain in _fields(nested, f"{here}[0]" if fd.is_repeated else here, depth + 1):
                yield inner, [fd, *chain]


CASES = [(d, path, chain) for d in REQUESTS for path, chain in _fields(d)]


def _oversized(descriptor: Any, chain: list[FieldDescriptor]) -> Message:
    request = message_factory.GetMessageClass(descriptor)()
    target: Any = request
    for fd in chain[:-1]:
        target = getattr(target, fd.name).add() if fd.is_repeated else getattr(target, fd.name)
    last = chain[-1]
    owner = target.DESCRIPTOR.name
    key = f"{owner}.{last.name}"
    if last.is_repeated:
        most = limits.REPEATED_LIMITS.get(key, limits.DEFAULT_REPEATED)
        container = getattr(target, last.name)
        entry: Any = last.message_type
        if entry is not None and entry.GetOptions().map_entry:
            for i in range(most + 1):
                container[f"k{i}"] = "v"
        elif last.message_type is not None:
            for _ in range(most + 1):
                container.add()
        elif last.type == FieldDescriptor.TYPE_ENUM:
            container.extend([0] * (most + 1))
        else:
            container.extend(["A"] * (most + 1))
    else:
        rule = limits.FORMATS.get(key) or limits.FORMATS.get(last.name)
        most = rule[2] if rule else limits.STRING_LIMITS.get(key, limits.DEFAULT_STRING)
        setattr(target, last.name, "9" * (most + 1))
    return request


@pytest.mark.parametrize(("descriptor", "path", "chain"), CASES, ids=[f"{d.name}.{p}" for d, p, _ in CASES])
def test_every_string_and_repeated_field_of_every_request_has_a_size_limit(
    descriptor: Any, path: str, chain: list[FieldDescriptor]
) -> None:
    request = _oversized(descriptor, chain)
    with pytest.raises(GatewayError) as caught:
        limits.check_request(request)
    assert caught.value.code == Status.INVALID_ARGUMENT
    assert caught.value.field_violations[0][0] == path
    assert "at most" in caught.value.message and len(caught.value.message) < 200


def test_the_largest_valid_request_fits_the_servers_message_limit() -> None:
    from kite_gateway_api.v1 import common_pb2, market_data_pb2

    biggest = market_data_pb2.GetQuoteRequest(
        account_id="A" * 32, instruments=[common_pb2.InstrumentRef(symbol="X" * 64) for _ in range(5000)]
    )
    limits.check_request(biggest)
    assert biggest.ByteSize() < limits.MAX_REQUEST_BYTES


def test_unknown_fields_are_discarded_and_output_only_fields_cleared() -> None:
    from kite_gateway_api.v1 import order_pb2

    leg = order_pb2.GttLeg(quantity=1)
    leg.result.trigger_time.seconds = 2**62
    request = order_pb2.PlaceGttRequest(params=order_pb2.GttParams(legs=[leg]))
    raw = request.SerializeToString() + b"\xf8\xff\x03\x01"  # field 65535, a varint
    decoded = order_pb2.PlaceGttRequest.FromString(raw)
    limits.check_request(decoded)
    assert not decoded.params.legs[0].HasField("result")
    assert (
        decoded.SerializeToString()
        == order_pb2.PlaceGttRequest(
            params=order_pb2.GttParams(legs=[order_pb2.GttLeg(quantity=1)])
        ).SerializeToString()
    )


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("order_history", ("1/../../portfolio/holdings",), {}),
        ("order_trades", ("",), {}),
        ("modify_order", ("regular", "1%2F..%2F"), {}),
        ("cancel_order", ("regular/../x", "1"), {}),
        ("place_order", (), {"variety": "../../user", "exchange": "NSE", "tradingsymbol": "INFY",
                             "transaction_type": "BUY", "quantity": 1, "product": "CNC", "order_type": "MARKET"}),
        ("get_gtt", (True,), {}),
        ("delete_gtt", ("12a",), {}),
        ("modify_gtt", (0,), {"trigger_type": "single", "tradingsymbol": "INFY", "exchange": "NSE",
                              "trigger_values": [1], "last_price": 1, "orders": []}),
        ("margins", ("equity?x",), {}),
        ("instruments", ("NSE/../x",), {}),
        ("historical_data", (2**32, "a", "b", "day"), {}),
        ("trigger_range", ("BUY/..",), {}),
    ],
)  # fmt: skip
def test_every_path_parameter_of_a_kite_url_must_have_kites_own_form(
    method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(GatewayError) as caught:
        check_call(method, args, kwargs)
    assert caught.value.code == Status.INVALID_ARGUMENT


def test_kites_own_ids_pass_the_path_checks() -> None:
    check_call("order_history", ("151220000000000",), {})
    check_call("modify_order", ("iceberg", "261124000000001"), {"quantity": 5})
    check_call("get_gtt", (100001,), {})
    check_call("delete_gtt", ("100001",), {})
    check_call("margins", (), {})
    check_call("historical_data", (408065, "a", "b", "5minute"), {"continuous": False, "oi": True})
    check_call("instruments", (), {"exchange": "NFO"})


def test_every_path_parameter_of_the_official_client_is_checked() -> None:
    import re

    from kiteconnect import KiteConnect

    names = {name for route in KiteConnect._routes.values() for name in re.findall(r"{(\w+)}", route)}
    assert names <= set(PATH_PARAMETERS), names - set(PATH_PARAMETERS)


def _kite_exception_types() -> list[type[Exception]]:
    found = [
        value
        for value in vars(kite_exceptions).values()
        if isinstance(value, type) and issubclass(value, kite_exceptions.KiteException)
    ]
    return sorted(found, key=lambda kind: kind.__name__)


@pytest.mark.parametrize("kind", _kite_exception_types(), ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("http_status", [0, 400, 403, 404, 500, 502, 503])
def test_no_kite_exception_ever_maps_to_unknown(kind: type[Exception], http_status: int) -> None:
    error = from_kite(kind("Something happened", code=http_status), "ZS0001")  # type: ignore[call-arg]
    assert error.code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)


def test_kites_trigger_not_found_is_not_found_and_its_server_errors_unavailable() -> None:
    missing = from_kite(kite_exceptions.GeneralException("Trigger not found.", code=404), "ZS0001")
    assert missing.code == Status.NOT_FOUND
    broken = from_kite(kite_exceptions.GeneralException("Internal server error", code=500), "ZS0001")
    assert broken.code == Status.UNAVAILABLE and broken.retry_after
    refused = from_kite(kite_exceptions.GeneralException("Something odd", code=400), "ZS0001")
    assert refused.code == Status.FAILED_PRECONDITION


def test_an_error_never_carries_more_than_a_short_message_and_short_details() -> None:
    huge = "x" * 10**6
    error = from_kite(kite_exceptions.InputException(f"Invalid `auction_number`: {huge}", code=400), huge)
    assert len(error.message) <= MAX_MESSAGE
    assert all(len(v) <= MAX_DETAIL for v in error.metadata.values())
    assert len(trailing_metadata(error)[0][1]) < 4096
