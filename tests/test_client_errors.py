"""A failed call reaches the client's caller as GatewayCallError with the gateway's details decoded
(as the gateway encodes them), never as grpc.aio.AioRpcError."""

from __future__ import annotations

import grpc
import pytest
from grpc.aio import AioRpcError, Metadata
from kite_gateway_api.v1 import account_pb2
from kite_gateway_client import FieldViolation, GatewayCallError
from kite_gateway_client.calls import Connection

from kite_gateway.errors import GatewayError, Reason, Status
from kite_gateway.grpc.status import trailing_metadata


def rpc_error(error: GatewayError) -> AioRpcError:
    code = getattr(grpc.StatusCode, error.code.name)
    return AioRpcError(code, Metadata(), Metadata(*trailing_metadata(error)), error.message)


def test_the_reason_metadata_field_violations_and_retry_delay_are_decoded() -> None:
    error = GatewayError(
        Status.INVALID_ARGUMENT,
        Reason.INVALID_FIELD,
        "params.price: not a multiple of the tick size 0.05",
        metadata={"account_id": "ZS0001"},
        field_violations=[("params.price", "not a multiple of the tick size 0.05")],
        retry_after=1.5,
    )
    decoded = GatewayCallError.from_rpc_error(rpc_error(error))
    assert decoded.code == grpc.StatusCode.INVALID_ARGUMENT
    assert decoded.message == "params.price: not a multiple of the tick size 0.05"
    assert (decoded.reason, dict(decoded.metadata)) == ("INVALID_FIELD", {"account_id": "ZS0001"})
    assert decoded.domain  # the gateway's error domain
    assert decoded.field_violations == (FieldViolation("params.price", "not a multiple of the tick size 0.05"),)
    assert decoded.retry_delay == 1.5
    assert decoded.status is not None and decoded.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert str(decoded).startswith("INVALID_ARGUMENT (INVALID_FIELD): params.price")


def test_a_failure_without_details_still_has_its_code_and_message() -> None:
    bare = AioRpcError(grpc.StatusCode.UNAVAILABLE, Metadata(), Metadata(), "connection refused")
    decoded = GatewayCallError.from_rpc_error(bare)
    assert (decoded.code, decoded.message, decoded.reason, decoded.retry_delay) == (
        grpc.StatusCode.UNAVAILABLE,
        "connection refused",
        "",
        None,
    )


def test_unreadable_status_details_do_not_hide_the_failure() -> None:
    garbled = AioRpcError(
        grpc.StatusCode.INTERNAL, Metadata(), Metadata(("grpc-status-details-bin", b"\xff\xff")), "oops"
    )
    decoded = GatewayCallError.from_rpc_error(garbled)
    assert (decoded.code, decoded.message, decoded.status) == (grpc.StatusCode.INTERNAL, "oops", None)


async def test_a_call_that_is_not_retried_raises_the_clients_error_not_grpcs() -> None:
    connection = Connection("127.0.0.1:1")
    refused = GatewayError(Status.FAILED_PRECONDITION, Reason.KILL_SWITCH_ACTIVE, "the kill switch is engaged")

    async def remove(*_args: object, **_kwargs: object) -> account_pb2.RemoveAccountResponse:
        raise rpc_error(refused)

    try:
        with pytest.raises(GatewayCallError) as caught:
            await connection._call(remove, account_pb2.RemoveAccountRequest(), retried=False, call_timeout=None)
    finally:
        await connection.close()
    assert caught.value.reason == "KILL_SWITCH_ACTIVE" and not isinstance(caught.value, grpc.RpcError)
