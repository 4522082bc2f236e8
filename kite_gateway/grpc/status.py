"""A GatewayError as gRPC sends it: the grpc.StatusCode, and a google.rpc.Status with ErrorInfo
always and BadRequest, PreconditionFailure and RetryInfo where they apply, in the trailing
metadata key that grpc-status and every gRPC client read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from kite_gateway_api.v1 import errors_pb2

from kite_gateway.errors import GatewayError, Status

DOMAIN = "kite-gateway"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
_CODES = {code.value[0]: code for code in grpc.StatusCode}


def grpc_code(status: Status) -> grpc.StatusCode:
    return _CODES[int(status)]


def _bad_request(error: GatewayError) -> error_details_pb2.BadRequest | None:
    if not error.field_violations:
        return None
    violations = [
        error_details_pb2.BadRequest.FieldViolation(field=name, description=text)
        for name, text in error.field_violations
    ]
    return error_details_pb2.BadRequest(field_violations=violations)


def _retry_info(error: GatewayError) -> error_details_pb2.RetryInfo | None:
    if error.retry_after is None:
        return None
    delay = duration_pb2.Duration()
    delay.FromTimedelta(timedelta(seconds=error.retry_after))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def rpc_status(error: GatewayError) -> status_pb2.Status:
    """As a google.rpc.Status with its details."""
    details: list[Any] = [error_details_pb2.ErrorInfo(reason=error.reason_name, domain=DOMAIN, metadata=error.metadata)]
    if error.precondition_violations:
        failures = [
            error_details_pb2.PreconditionFailure.Violation(type=kind, subject=subject, description=text)
            for kind, subject, text in error.precondition_violations
        ]
        details.append(error_details_pb2.PreconditionFailure(violations=failures))
    details += [detail for detail in (_bad_request(error), _retry_info(error)) if detail is not None]
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)
        packed.append(wrapper)
    return status_pb2.Status(code=int(error.code), message=error.message, details=packed)


def failure_pb(error: GatewayError) -> errors_pb2.Failure:
    """The error of one part of a call that reports partial results (a bulk leg, one account)."""
    failure = errors_pb2.Failure(
        code=int(error.code), reason=cast(Any, error.reason), message=error.message, metadata=error.metadata
    )
    bad_request, retry_info = _bad_request(error), _retry_info(error)
    if bad_request is not None:
        failure.bad_request.CopyFrom(bad_request)
    if retry_info is not None:
        failure.retry_info.CopyFrom(retry_info)
    return failure


def trailing_metadata(error: GatewayError) -> tuple[tuple[str, bytes], ...]:
    return ((STATUS_DETAILS_KEY, rpc_status(error).SerializeToString()),)


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: GatewayError) -> None:
    """End the call with the error's status, message and details."""
    await context.abort(grpc_code(error.code), error.message, trailing_metadata(error))
